// train_gpt: trains a GPT-2-style language model on an HDF5 token file (prepare_text
// makes one), logs training and validation loss, checkpoints to HDF5, resumes bit for
// bit, evaluates a checkpoint per token (--eval-only: loss, perplexity, bits per byte on
// the validation and test splits), times steps (--benchmark-steps), and generates text
// from a checkpoint (--sample N --prompt TEXT). Run with --help for every flag. The GPT
// task is train/gpt_task.cpp; the loop is the shared trainer (train/trainer.h).
#include "train/tasks.h"

int main(int argc, char** argv) {
  return dapa::train_main(dapa::gpt_task_kind(), argc, argv);
}
