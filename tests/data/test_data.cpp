// IDX reading, data set files and the loader: known answers and every bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "core/allocator.h"
#include "core/h5.h"
#include "data/dataset.h"

namespace dapa {
namespace {

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/" + name;
}

IdxArray images(int64_t n, int64_t h, int64_t w, uint8_t base = 0) {
  IdxArray a{{n, h, w}, {}};
  for (int64_t i = 0; i < n * h * w; ++i) a.data.push_back(static_cast<uint8_t>(base + i * 7));
  return a;
}

IdxArray labels(std::vector<uint8_t> v) {
  return IdxArray{{static_cast<int64_t>(v.size())}, std::move(v)};
}

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(Idx, RoundTripsGzipAndRaw) {
  IdxArray a = images(3, 4, 5);
  for (std::string name : {"a.idx", "a.idx.gz"}) {
    write_idx(tmp(name), a);
    IdxArray b = read_idx(tmp(name));
    EXPECT_EQ(b.shape, a.shape) << name;
    EXPECT_EQ(b.data, a.data) << name;
  }
}

TEST(Idx, BadFilesGiveOneClearError) {
  EXPECT_NE(error_of([] { read_idx(tmp("missing.idx")); }).find("cannot open"), std::string::npos);
  std::ofstream(tmp("magic.idx"), std::ios::binary) << std::string("\x01\x02\x08\x01\0\0\0\1x", 9);
  EXPECT_NE(error_of([] { read_idx(tmp("magic.idx")); }).find("magic number"), std::string::npos);
  std::ofstream(tmp("type.idx"), std::ios::binary) << std::string("\0\0\x0d\x01\0\0\0\1x", 9);
  EXPECT_NE(error_of([] { read_idx(tmp("type.idx")); }).find("0x08"), std::string::npos);
  // A header that promises 10 bytes, followed by 3.
  std::ofstream(tmp("short.idx"), std::ios::binary) << std::string(
      "\0\0\x08\x01\0\0\0\x0a"
      "abc",
      11);
  std::string e = error_of([] { read_idx(tmp("short.idx")); });
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  EXPECT_NE(e.find("short.idx"), std::string::npos) << e;
  // A gzip file cut in the middle.
  write_idx(tmp("cut.idx.gz"), images(50, 28, 28));
  {
    std::ifstream in(tmp("cut.idx.gz"), std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(tmp("cut2.idx.gz"), std::ios::binary) << all.substr(0, all.size() / 2);
  }
  EXPECT_FALSE(error_of([] { read_idx(tmp("cut2.idx.gz")); }).empty());
}

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

TEST(Idx, GzipWhoseChecksumDoesNotMatchIsAnError) {
  // The deflate stream decodes completely; only the CRC-32 (or the length) in the gzip
  // trailer disagrees: every byte read may be wrong, so the file is refused.
  write_idx(tmp("crc.idx.gz"), images(1000, 28, 28));
  std::string all = file_text(tmp("crc.idx.gz"));
  for (size_t from_end : {8u, 4u}) {  // CRC-32, then ISIZE
    std::string bad = all;
    bad[bad.size() - from_end] = static_cast<char>(bad[bad.size() - from_end] ^ 0x40);
    std::ofstream(tmp("crc_bad.idx.gz"), std::ios::binary) << bad;
    std::string e = error_of([] { read_idx(tmp("crc_bad.idx.gz")); });
    EXPECT_NE(e.find("corrupt compressed data"), std::string::npos) << from_end << ": " << e;
  }
  EXPECT_EQ(read_idx(tmp("crc.idx.gz")).data, images(1000, 28, 28).data);
}

TEST(Idx, HeaderClaimingMoreThanTheFileHoldsCostsNoMemory) {
  // 0xFF000000 x 1 x 1 bytes declared (4 GiB), 3 bytes present.
  std::ofstream(tmp("huge.idx"), std::ios::binary)
      << std::string("\0\0\x08\x03\xff\0\0\0\0\0\0\x01\0\0\0\x01xyz", 19);
  const int64_t before = peak_rss_bytes();
  std::string e = error_of([] { read_idx(tmp("huge.idx")); });
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  EXPECT_LT(peak_rss_bytes() - before, int64_t{256} << 20) << "bytes of peak memory grew";
  std::ofstream(tmp("type.idx"), std::ios::binary) << std::string("\0\0\x0d\x01\0\0\0\1x", 9);
  EXPECT_NE(error_of([] { read_idx(tmp("type.idx")); }).find("IDX data type 0x0d"),
            std::string::npos);
}

// A data set file as prepare_data lays it out, with the images stored as `image_type`
// ("uint8", "float32" or "int64"), the given mean and `test_n` test images.
void write_layout(const std::string& path, const std::string& image_type, double mean,
                  int64_t test_n) {
  write_h5_atomically(path, [&](H5Store& s) {
    for (auto [split, n] : {std::pair{"train", int64_t{4}}, std::pair{"test", test_n}}) {
      std::string g = split;
      std::vector<uint8_t> bytes(n * 4, 100), label_bytes(n, 1);
      if (image_type == "uint8")
        s.write_bytes(g + "/images", bytes, {n, 2, 2});
      else if (image_type == "float32")
        s.write_tensor(g + "/images", Tensor::full({n, 2, 2}, 0.5f));
      else
        s.write_labels(g + "/images", Labels(n * 4, 100));  // int32
      s.write_bytes(g + "/labels", label_bytes, {n});
    }
    s.write_attr("/", "classes", 3.0);
    s.write_attr("/", "mean", std::vector<double>{mean});
    s.write_attr("/", "std", std::vector<double>{0.25});
    s.write_attr("/", "format_version", 1.0);
  });
}

TEST(Dataset, LoadRefusesWhatWouldBeSilentlyWrong) {
  std::string path = tmp("layout.h5");
  write_layout(path, "uint8", 0.4, 2);
  EXPECT_EQ(load_dataset(path).test.n, 2);  // the layout itself is valid
  // Floats in [0, 1] or wider integers would be converted (to 0/1, or clamped) by HDF5.
  for (std::string type : {"float32", "int32"}) {
    write_layout(path, type, 0.4, 2);
    std::string e = error_of([&] { load_dataset(path); });
    EXPECT_NE(e.find("expected uint8"), std::string::npos) << type << ": " << e;
  }
  write_layout(path, "uint8", std::nan(""), 2);
  EXPECT_NE(error_of([&] { load_dataset(path); }).find("'mean' must lie in [0, 1]"),
            std::string::npos);
  write_layout(path, "uint8", 0.4, 0);
  EXPECT_NE(error_of([&] { load_dataset(path); }).find("the test split is empty"),
            std::string::npos);
  std::remove(path.c_str());
}

TEST(Dataset, FlippedImageBytesAreDetectedWhenRead) {
  std::string path = tmp("flip.h5");
  IdxArray train = images(400, 8, 8);  // 25,600 bytes: chunked, with Fletcher-32
  std::fill(train.data.begin(), train.data.end(), uint8_t{77});
  train.data[0] = 1;  // not constant
  prepare_dataset(train, labels(std::vector<uint8_t>(400, 1)), images(2, 8, 8), labels({2, 0}), 3,
                  "flip", path);
  std::string bytes = file_text(path);
  size_t run = bytes.find(std::string(64, '\x4d'));  // 64 bytes of 77: inside the images
  ASSERT_NE(run, std::string::npos);
  bytes[run + 10] = 78;
  std::ofstream(path, std::ios::binary) << bytes;
  Dataset d = load_dataset(path);  // labels and statistics are intact
  DataLoader loader(d, d.train, 400, false, 0);
  Tensor x;
  Labels y;
  std::string e = error_of([&] { loader.batch(0, 0, x, y); });
  EXPECT_NE(e.find("Fletcher32 checksum"), std::string::npos) << e;
  std::remove(path.c_str());
}

TEST(Dataset, PrepareLoadAndStatistics) {
  std::string path = tmp("ds.h5");
  prepare_dataset(images(4, 2, 2), labels({0, 1, 2, 1}), images(2, 2, 2, 3), labels({2, 0}), 3,
                  "unit", path);
  Dataset d = load_dataset(path);
  EXPECT_EQ(d.train.n, 4);
  EXPECT_EQ(d.test.n, 2);
  EXPECT_EQ(d.channels, 1);
  EXPECT_EQ(d.height, 2);
  EXPECT_EQ(d.classes, 3);
  EXPECT_EQ(d.source, "unit");
  EXPECT_EQ(d.train.labels, (Labels{0, 1, 2, 1}));
  // Mean of the training bytes 0, 7, 14, ..., 105 scaled to [0, 1].
  double mean = 0, sq = 0;
  for (int i = 0; i < 16; ++i) mean += (i * 7) / 255.0 / 16;
  for (int i = 0; i < 16; ++i) sq += std::pow((i * 7) / 255.0 - mean, 2) / 16;
  EXPECT_NEAR(d.mean[0], mean, 1e-12);
  EXPECT_NEAR(d.std[0], std::sqrt(sq), 1e-9);
  std::remove(path.c_str());
}

TEST(Dataset, RejectsInconsistentInputsAndKeepsExistingOutput) {
  std::string path = tmp("keep.h5");
  prepare_dataset(images(4, 2, 2), labels({0, 1, 2, 1}), images(2, 2, 2), labels({2, 0}), 3,
                  "first", path);
  std::string e = error_of([&] {
    prepare_dataset(images(4, 2, 2), labels({0, 1, 2}), images(2, 2, 2), labels({2, 0}), 3, "x",
                    path);
  });
  EXPECT_NE(e.find("4 images but 3 labels"), std::string::npos) << e;
  e = error_of([&] {
    prepare_dataset(images(4, 2, 2), labels({0, 1, 7, 1}), images(2, 2, 2), labels({2, 0}), 3, "x",
                    path);
  });
  EXPECT_NE(e.find("outside the class range"), std::string::npos) << e;
  e = error_of([&] {
    prepare_dataset(images(4, 2, 2), labels({0, 1, 2, 1}), images(2, 3, 2), labels({2, 0}), 3, "x",
                    path);
  });
  EXPECT_NE(e.find("differ in image shape"), std::string::npos) << e;
  EXPECT_EQ(load_dataset(path).source, "first");  // untouched by the failed attempts
  std::remove(path.c_str());
}

TEST(Dataset, LoadRejectsForeignAndCorruptFiles) {
  std::string foreign = tmp("foreign.h5");
  write_h5_atomically(foreign, [](H5Store& s) { s.write_tensor("x", Tensor::zeros({2})); });
  EXPECT_NE(error_of([&] { load_dataset(foreign); }).find("missing dataset 'train/images'"),
            std::string::npos);
  std::ofstream(tmp("corrupt.h5")) << "garbage";
  EXPECT_NE(error_of([&] { load_dataset(tmp("corrupt.h5")); }).find("corrupt.h5"),
            std::string::npos);
  std::remove(foreign.c_str());
}

TEST(DataLoader, SeededShufflePartialLastBatchAndNormalisation) {
  std::string path = tmp("loader.h5");
  prepare_dataset(images(10, 1, 2), labels({0, 1, 2, 0, 1, 2, 0, 1, 2, 0}), images(2, 1, 2),
                  labels({0, 1}), 3, "unit", path);
  Dataset d = load_dataset(path);
  DataLoader a(d, d.train, 4, true, 42), b(d, d.train, 4, true, 42), c(d, d.train, 4, true, 43);
  EXPECT_EQ(a.batches_per_epoch(), 3);
  Tensor x, x2;
  Labels y, y2;
  std::vector<int> seen;
  for (int64_t i = 0; i < 3; ++i) {
    a.batch(0, i, x, y);
    b.batch(0, i, x2, y2);
    EXPECT_EQ(x.to_vector(), x2.to_vector());
    EXPECT_EQ(x.shape(), (Shape{i < 2 ? 4 : 2, 1, 1, 2}));
    // Recover each image's index from its first pixel (7 * 2 * index) to check coverage.
    for (int64_t j = 0; j < x.shape()[0]; ++j) {
      double raw = (x.at({j, 0, 0, 0}) * d.std[0] + d.mean[0]) * 255.0;
      seen.push_back(static_cast<int>(std::lround(raw / 14.0)));
      EXPECT_EQ(y[j], d.train.labels[seen.back()]);
    }
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  c.batch(0, 0, x2, y2);
  a.batch(0, 0, x, y);
  EXPECT_NE(x.to_vector(), x2.to_vector()) << "another seed, another order";
  a.batch(1, 0, x2, y2);
  EXPECT_NE(x.to_vector(), x2.to_vector()) << "another epoch, another order";
  EXPECT_THROW(a.batch(0, 3, x, y), DataError);
  EXPECT_THROW(DataLoader(d, d.train, 0, true, 0), DataError);
  std::remove(path.c_str());
}

TEST(DataLoader, StreamingFromTheFileEqualsPreloading) {
  std::string path = tmp("stream.h5");
  IdxArray imgs = images(37, 3, 5);
  Labels expect_labels;
  IdxArray labs{{37}, {}};
  for (int i = 0; i < 37; ++i) labs.data.push_back(static_cast<uint8_t>(i % 4));
  prepare_dataset(imgs, labs, images(5, 3, 5), labels({0, 1, 2, 3, 0}), 4, "unit", path);
  Dataset streamed = load_dataset(path), preloaded = load_dataset(path, true);
  EXPECT_TRUE(streamed.train.images.empty());
  EXPECT_EQ(preloaded.train.images.size(), 37u * 15);
  limit_split(streamed.train, 30, streamed.image_size());
  limit_split(preloaded.train, 30, preloaded.image_size());
  DataLoader a(streamed, streamed.train, 8, true, 5), b(preloaded, preloaded.train, 8, true, 5);
  Tensor xa, xb;
  Labels ya, yb;
  for (int64_t epoch = 0; epoch < 2; ++epoch)
    for (int64_t i = 0; i < a.batches_per_epoch(); ++i) {
      a.batch(epoch, i, xa, ya);
      b.batch(epoch, i, xb, yb);
      ASSERT_EQ(xa.to_vector(), xb.to_vector()) << "epoch " << epoch << " batch " << i;
      ASSERT_EQ(ya, yb);
    }
  DataLoader test(streamed, streamed.test, 2, false, 0);
  test.batch(0, 2, xa, ya);  // the last, one-image batch: image 4 of the test split
  EXPECT_EQ(ya, (Labels{0}));
  EXPECT_NEAR((xa.at({0, 0, 0, 0}) * streamed.std[0] + streamed.mean[0]) * 255, 4 * 15 * 7 % 256,
              1e-3);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace dapa
