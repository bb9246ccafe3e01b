// Data set files and the batch loader; see dataset.h.
#include "data/dataset.h"

#include <cmath>
#include <cstring>
#include <numeric>

#include "core/h5.h"
#include "core/rng.h"

namespace dapa {

namespace {
constexpr int64_t kFormatVersion = 1;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw DataError(path + ": " + what);
}

// Images as (N, C, H, W): IDX (N, H, W) gets C = 1.
Shape image_shape(const IdxArray& a, const std::string& what) {
  if (a.shape.size() == 3) return {a.shape[0], 1, a.shape[1], a.shape[2]};
  if (a.shape.size() == 4) return a.shape;
  throw DataError(what + ": images must have 3 (N, H, W) or 4 (N, C, H, W) dimensions, got " +
                  shape_str(a.shape));
}

void check_pair(const IdxArray& images, const IdxArray& labels, int64_t classes,
                const std::string& what) {
  Shape s = image_shape(images, what);
  if (labels.shape.size() != 1)
    throw DataError(what + ": labels must have 1 dimension, got " + shape_str(labels.shape));
  if (labels.shape[0] != s[0])
    throw DataError(what + ": " + std::to_string(s[0]) + " images but " +
                    std::to_string(labels.shape[0]) + " labels");
  for (size_t i = 0; i < labels.data.size(); ++i)
    if (labels.data[i] >= classes)
      throw DataError(what + ": label " + std::to_string(labels.data[i]) + " at index " +
                      std::to_string(i) + " is outside the class range [0, " +
                      std::to_string(classes) + ")");
}
}  // namespace

void prepare_dataset(const IdxArray& train_images, const IdxArray& train_labels,
                     const IdxArray& test_images, const IdxArray& test_labels, int64_t classes,
                     const std::string& source, const std::string& out_path) {
  if (classes < 2 || classes > 256)
    throw DataError("--classes: expected 2 to 256, got " + std::to_string(classes));
  check_pair(train_images, train_labels, classes, "training split");
  check_pair(test_images, test_labels, classes, "test split");
  Shape tr = image_shape(train_images, "training split"),
        te = image_shape(test_images, "test split");
  if (!std::equal(tr.begin() + 1, tr.end(), te.begin() + 1))
    throw DataError("training images " + shape_str(tr) + " and test images " + shape_str(te) +
                    " differ in image shape");
  // Per-channel mean and std of the training images on the [0, 1] scale.
  int64_t C = tr[1], plane = tr[2] * tr[3];
  std::vector<double> mean(C, 0.0), sq(C, 0.0);
  for (int64_t i = 0; i < tr[0]; ++i)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < plane; ++p) {
        double v = train_images.data[(i * C + c) * plane + p] / 255.0;
        mean[c] += v;
        sq[c] += v * v;
      }
  std::vector<double> std(C);
  double count = static_cast<double>(tr[0] * plane);
  for (int64_t c = 0; c < C; ++c) {
    mean[c] /= count;
    std[c] = std::sqrt(std::max(sq[c] / count - mean[c] * mean[c], 0.0));
    if (std[c] < 1e-6)
      throw DataError("training split: channel " + std::to_string(c) + " is constant");
  }
  write_h5_atomically(out_path, [&](H5Store& s) {
    s.write_bytes("train/images", train_images.data, train_images.shape);
    s.write_bytes("train/labels", train_labels.data, train_labels.shape);
    s.write_bytes("test/images", test_images.data, test_images.shape);
    s.write_bytes("test/labels", test_labels.data, test_labels.shape);
    s.write_attr("/", "source", source);
    s.write_attr("/", "classes", static_cast<double>(classes));
    s.write_attr("/", "mean", mean);
    s.write_attr("/", "std", std);
    s.write_attr("/", "format_version", static_cast<double>(kFormatVersion));
  });
}

namespace {
// One split ("train" or "test") of an open data set file: its labels, the shape of its
// images (N, C, H, W) and, with `preload`, the images themselves.
Shape load_split(H5Store& s, const std::string& path, const std::string& g, int64_t classes,
                 bool preload, ImageSplit& split) {
  split.name = g;
  for (const char* what : {"/images", "/labels"})
    if (std::string type = s.dataset_type(g + what); type != "uint8")
      fail(path, "'" + g + what + "' holds " + type +
                     " values; expected uint8 (unsigned bytes, as prepare_data writes)");
  Shape shape = s.dataset_shape(g + "/images");
  if (preload) split.images = s.read_bytes(g + "/images", &shape);
  if (shape.size() == 3) shape.insert(shape.begin() + 1, 1);
  if (shape.size() != 4)
    fail(path, "'" + g + "/images' must be (N, H, W) or (N, C, H, W), got " + shape_str(shape));
  split.n = shape[0];
  split.labels = s.read_labels(g + "/labels");
  if (static_cast<int64_t>(split.labels.size()) != split.n)
    fail(path, "'" + g + "': " + std::to_string(split.n) + " images but " +
                   std::to_string(split.labels.size()) + " labels");
  for (int32_t l : split.labels)
    if (l < 0 || l >= classes)
      fail(path, "'" + g + "/labels' holds label " + std::to_string(l) + " outside [0, " +
                     std::to_string(classes) + ")");
  return shape;
}

// The attributes and splits agree: a mean and std per channel, neither split empty.
void check_consistent(const Dataset& d) {
  if (static_cast<int64_t>(d.mean.size()) != d.channels ||
      static_cast<int64_t>(d.std.size()) != d.channels)
    fail(d.path, "attributes 'mean' and 'std' need one value per channel (" +
                     std::to_string(d.channels) + ")");
  for (double v : d.std)
    if (!(v > 0.0) || !std::isfinite(v)) fail(d.path, "attribute 'std' must be positive");
  for (double v : d.mean)
    if (!(v >= 0.0 && v <= 1.0)) fail(d.path, "attribute 'mean' must lie in [0, 1]");
  if (d.train.n == 0) fail(d.path, "the training split is empty");
  if (d.test.n == 0) fail(d.path, "the test split is empty");
}
}  // namespace

Dataset load_dataset(const std::string& path, bool preload) {
  Dataset d;
  d.path = path;
  try {
    d.file = std::make_shared<H5Store>(path, H5Store::Mode::Read);
    H5Store& s = *d.file;
    for (const char* name : {"train/images", "train/labels", "test/images", "test/labels"})
      if (!s.exists(name))
        fail(path,
             std::string("missing dataset '") + name + "' (not a data set made by prepare_data?)");
    if (s.has_attr("/", "format_version")) {
      int64_t version = s.read_attr_int("/", "format_version", 0, 1000);
      if (version != kFormatVersion)
        fail(path, "data set format version " + std::to_string(version) +
                       " is not supported (expected " + std::to_string(kFormatVersion) + ")");
    }
    d.source = s.has_attr("/", "source") ? s.read_attr_string("/", "source") : "";
    d.classes = s.read_attr_int("/", "classes", 2, 256);
    d.mean = s.read_attr_doubles("/", "mean");
    d.std = s.read_attr_doubles("/", "std");
    Shape train = load_split(s, path, "train", d.classes, preload, d.train);
    d.channels = train[1], d.height = train[2], d.width = train[3];
    Shape test = load_split(s, path, "test", d.classes, preload, d.test);
    if (test[1] != d.channels || test[2] != d.height || test[3] != d.width)
      fail(path, "test images differ in shape from training images");
    check_consistent(d);
    if (preload) d.file.reset();
  } catch (const H5Error& e) {
    throw DataError(e.what());
  }
  return d;
}

void limit_split(ImageSplit& split, int64_t n, int64_t image_size) {
  if (n <= 0 || n >= split.n) return;
  split.n = n;
  split.labels.resize(n);
  if (!split.images.empty()) {
    split.images.resize(n * image_size);
    split.images.shrink_to_fit();
  }
}

DataLoader::DataLoader(const Dataset& data, const ImageSplit& split, int64_t batch, bool shuffle,
                       uint64_t seed)
    : data_(data), split_(split), batch_(batch), shuffle_(shuffle), seed_(seed) {
  if (batch <= 0) throw DataError("batch size must be positive, got " + std::to_string(batch));
}

void DataLoader::batch(int64_t epoch, int64_t index, Tensor& images, Labels& labels) {
  if (order_epoch_ != epoch) {
    order_.resize(split_.n);
    std::iota(order_.begin(), order_.end(), 0);
    if (shuffle_) {
      epoch_rng(seed_, epoch).shuffle(order_);
    }
    order_epoch_ = epoch;
  }
  int64_t begin = index * batch_, end = std::min(split_.n, begin + batch_);
  if (index < 0 || begin >= split_.n)
    throw DataError("batch " + std::to_string(index) + " is past the end of the split");
  int64_t B = end - begin, C = data_.channels, plane = data_.height * data_.width;
  std::vector<int64_t> rows(order_.begin() + begin, order_.begin() + end);
  bytes_.resize(B * C * plane);
  if (!split_.images.empty()) {
    for (int64_t b = 0; b < B; ++b)
      std::memcpy(bytes_.data() + b * C * plane, split_.images.data() + rows[b] * C * plane,
                  C * plane);
  } else {
    try {
      data_.file->read_rows(split_.name + "/images", rows, bytes_.data());
    } catch (const H5Error& e) {
      throw DataError(e.what());
    }
  }
  images = Tensor::empty({B, C, data_.height, data_.width});
  labels.resize(B);
  float* out = images.data();
  for (int64_t b = 0; b < B; ++b) {
    labels[b] = split_.labels[rows[b]];
    for (int64_t c = 0; c < C; ++c) {
      // (v / 255 - mean) / std as one multiply-add.
      float a = static_cast<float>(1.0 / (255.0 * data_.std[c]));
      float b0 = static_cast<float>(-data_.mean[c] / data_.std[c]);
      const uint8_t* img = bytes_.data() + (b * C + c) * plane;
      for (int64_t p = 0; p < plane; ++p) out[(b * C + c) * plane + p] = a * img[p] + b0;
    }
  }
}

}  // namespace dapa
