// train_vit: trains a Vision Transformer on an HDF5 image data set (prepare_data makes
// one), logs the loss curve, evaluates every epoch and checkpoints to HDF5. Also
// resumes an interrupted run bit for bit, evaluates a checkpoint (--eval-only), and
// times training steps (--benchmark-steps). Run with --help for every flag. The ViT
// task is train/vit_task.cpp; the loop is the shared trainer (train/trainer.h).
#include "train/tasks.h"

int main(int argc, char** argv) {
  return dapa::train_main(dapa::vit_task_kind(), argc, argv);
}
