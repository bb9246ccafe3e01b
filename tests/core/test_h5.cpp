// HDF5 tensor store: round trips and clear errors on bad files.
#include <gtest/gtest.h>

#include <H5Cpp.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>

#include "core/h5.h"

namespace dapa {
namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/" + name;
}

TEST(H5Store, RoundTripsTensorsLabelsBytesAndAttributes) {
  std::string path = temp_path("roundtrip.h5");
  {
    H5Store s(path, H5Store::Mode::Truncate);
    s.write_tensor("a/b/w", Tensor::from({1.5f, -2, 3, 4, 5, 6}, {2, 3}));
    s.write_tensor("scalar", Tensor::scalar(7.0f));
    s.write_labels("labels", {3, 1, 4});
    s.write_bytes("img", {1, 2, 255, 0}, {2, 2});
    s.write_attr("/", "source", "unit test");
    s.write_attr("a/b/w", "scale", 0.25);
    s.close();
  }
  H5Store s(path, H5Store::Mode::Read);
  Tensor w = s.read_tensor("a/b/w");
  EXPECT_EQ(w.shape(), (Shape{2, 3}));
  EXPECT_EQ(w.to_vector(), (std::vector<float>{1.5f, -2, 3, 4, 5, 6}));
  EXPECT_EQ(s.read_tensor("scalar").item(), 7.0f);
  EXPECT_EQ(s.read_labels("labels"), (Labels{3, 1, 4}));
  Shape shape;
  EXPECT_EQ(s.read_bytes("img", &shape), (std::vector<uint8_t>{1, 2, 255, 0}));
  EXPECT_EQ(shape, (Shape{2, 2}));
  EXPECT_EQ(s.read_attr_string("/", "source"), "unit test");
  EXPECT_EQ(s.read_attr_double("a/b/w", "scale"), 0.25);
  EXPECT_TRUE(s.exists("a/b"));
  EXPECT_FALSE(s.exists("a/c/w"));
  EXPECT_EQ(s.children("a/b"), (std::vector<std::string>{"w"}));
  std::remove(path.c_str());
}

// Rows in any order, repeated, in runs and alone: each lands where it was asked for.
TEST(H5Store, ReadRowsPutsEveryRowWhereItWasAskedFor) {
  std::string path = temp_path("rows.h5");
  const int64_t rows = 4000, width = 3;  // large enough to be chunked and checksummed
  std::vector<uint8_t> data(rows * width);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 % 251);
  {
    H5Store s(path, H5Store::Mode::Truncate);
    s.write_bytes("x", data, {rows, width});
    s.close();
  }
  H5Store s(path, H5Store::Mode::Read);
  // The second call reads from the dataset the first one opened.
  for (std::vector<int64_t> asked :
       {std::vector<int64_t>{17, 3, 4, 5, 3999, 17, 0, 6, 2000, 1999, 2001, 4},
        std::vector<int64_t>{2500, 1, 2500, 3998, 3999}}) {
    std::vector<uint8_t> out(asked.size() * width);
    s.read_rows("x", asked, out.data());
    for (size_t k = 0; k < asked.size(); ++k)
      for (int64_t c = 0; c < width; ++c)
        ASSERT_EQ(out[k * width + c], data[asked[k] * width + c]) << "row " << asked[k];
  }
  std::vector<uint8_t> out(2 * width);
  EXPECT_THROW(s.read_rows("x", {1, rows}, out.data()), H5Error);
  std::remove(path.c_str());
}

// Datasets our writer does not make (contiguous; chunked and compressed, as h5py or
// another tool may write them) go through HDF5's own reads and give the same rows.
TEST(H5Store, ReadRowsOfDatasetsOtherToolsWrite) {
  std::string path = temp_path("rows_other.h5");
  const hsize_t rows = 3000, width = 5;
  std::vector<uint8_t> data(rows * width);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 13 % 253);
  {
    H5::H5File f(path, H5F_ACC_TRUNC);
    const hsize_t dims[2] = {rows, width}, chunk[2] = {64, width};
    H5::DataSpace space(2, dims);
    f.createDataSet("contiguous", H5::PredType::STD_U8LE, space)
        .write(data.data(), H5::PredType::NATIVE_UINT8);
    H5::DSetCreatPropList deflated;
    deflated.setChunk(2, chunk);
    deflated.setDeflate(6);
    f.createDataSet("deflated", H5::PredType::STD_U8LE, space, deflated)
        .write(data.data(), H5::PredType::NATIVE_UINT8);
  }
  H5Store s(path, H5Store::Mode::Read);
  const std::vector<int64_t> asked = {2999, 64, 63, 0, 1500, 64, 1, 2};
  for (const char* name : {"contiguous", "deflated"}) {
    std::vector<uint8_t> out(asked.size() * width);
    s.read_rows(name, asked, out.data());
    for (size_t k = 0; k < asked.size(); ++k)
      for (hsize_t c = 0; c < width; ++c)
        ASSERT_EQ(out[k * width + c], data[asked[k] * width + c]) << name << " row " << asked[k];
  }
  std::remove(path.c_str());
}

TEST(H5Store, ErrorsNameTheFileAndDataset) {
  std::string missing = temp_path("does_not_exist.h5");
  try {
    H5Store s(missing, H5Store::Mode::Read);
    FAIL();
  } catch (const H5Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos);
  }
  std::string garbage = temp_path("garbage.h5");
  std::ofstream(garbage) << "this is not an HDF5 file";
  EXPECT_THROW(H5Store(garbage, H5Store::Mode::Read), H5Error);
  std::string path = temp_path("one.h5");
  write_h5_atomically(path, [](H5Store& s) { s.write_tensor("x", Tensor::zeros({2})); });
  H5Store s(path, H5Store::Mode::Read);
  try {
    s.read_tensor("y");
    FAIL();
  } catch (const H5Error& e) {
    EXPECT_NE(std::string(e.what()).find("'y'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(s.read_attr_string("/", "nope"), H5Error);
  std::remove(path.c_str());
  std::remove(garbage.c_str());
}

// ---- hostile files: every problem is an H5Error naming the file, never a crash ----

// A file with one root attribute `key` of `n` doubles (n = 0: scalar), made with the C API.
std::string file_with_double_attr(const std::string& name, const char* key, int n,
                                  double value = 2.0) {
  std::string path = temp_path(name);
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims = static_cast<hsize_t>(n);
  hid_t space = n == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nullptr);
  hid_t a = H5Acreate2(f, key, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<double> values(std::max(n, 1), value);
  H5Awrite(a, H5T_NATIVE_DOUBLE, values.data());
  H5Aclose(a), H5Sclose(space), H5Fclose(f);
  return path;
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const H5Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(H5Hostile, ScalarAttributeHoldingAnArrayIsRefused) {
  for (int n : {2, 64}) {
    std::string path = file_with_double_attr("array_attr.h5", "classes", n);
    H5Store s(path, H5Store::Mode::Read);
    std::string e = error_of([&] { s.read_attr_double("/", "classes"); });
    EXPECT_NE(e.find(path), std::string::npos) << e;
    EXPECT_NE(e.find("must hold 1 value(s), holds " + std::to_string(n)), std::string::npos) << e;
  }
}

TEST(H5Hostile, IntegerAttributesMustBeWholeAndInRange) {
  for (double bad : {std::nan(""), 2.5, 1e300, -1.0}) {
    std::string path = file_with_double_attr("int_attr.h5", "step", 0, bad);
    H5Store s(path, H5Store::Mode::Read);
    std::string e = error_of([&] { s.read_attr_int("/", "step", 0, 1000); });
    EXPECT_NE(e.find("'step' must be a whole number from 0 to 1000"), std::string::npos) << e;
  }
  std::string path = file_with_double_attr("int_attr.h5", "step", 0, 7.0);
  EXPECT_EQ(H5Store(path, H5Store::Mode::Read).read_attr_int("/", "step", 0, 1000), 7);
}

TEST(H5Hostile, StringAttributeHoldingAnArrayOfStringsIsRefused) {
  std::string path = temp_path("vlen_attr.h5");
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  hsize_t dims = 40;
  hid_t space = H5Screate_simple(1, &dims, nullptr);
  hid_t a = H5Acreate2(f, "source", type, space, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<const char*> strings(40, "a string longer than the stack slot it would overwrite");
  H5Awrite(a, type, strings.data());
  H5Aclose(a), H5Sclose(space), H5Tclose(type), H5Fclose(f);
  H5Store s(path, H5Store::Mode::Read);
  EXPECT_NE(error_of([&] { s.read_attr_string("/", "source"); }).find("holds 40"),
            std::string::npos);
  // A number where a string is expected, and the reverse.
  std::string num = file_with_double_attr("num_attr.h5", "source", 0);
  EXPECT_NE(error_of([&] {
              H5Store(num, H5Store::Mode::Read).read_attr_string("/", "source");
            }).find("must be a string"),
            std::string::npos);
}

TEST(H5Hostile, DeclaredSizeBeyondWhatTheFileStoresIsRefusedBeforeAllocating) {
  std::string path = temp_path("huge_decl.h5");
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims[2] = {hsize_t{1} << 30, 1024};  // 4 TiB of float32, never written
  hid_t space = H5Screate_simple(2, dims, nullptr);
  hid_t d = H5Dcreate2(f, "w", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(d), H5Sclose(space), H5Fclose(f);
  H5Store s(path, H5Store::Mode::Read);
  EXPECT_NE(error_of([&] { s.read_tensor("w"); }).find("absurd size"), std::string::npos);
  EXPECT_NE(error_of([&] { s.dataset_shape("w"); }).find("absurd size"), std::string::npos);
}

TEST(H5Hostile, UnwrittenDatasetIsTruncatedNotZeros) {
  std::string path = temp_path("unwritten.h5");
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims = 1 << 20;
  hid_t space = H5Screate_simple(1, &dims, nullptr);
  hid_t d = H5Dcreate2(f, "w", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(d), H5Sclose(space), H5Fclose(f);
  H5Store s(path, H5Store::Mode::Read);
  EXPECT_NE(error_of([&] { s.read_tensor("w"); }).find("but the file stores 0"), std::string::npos);
}

// The file's bytes, and a copy with `count` bytes at `offset` inverted.
std::vector<char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}
void write_bytes_to(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(H5Hostile, ChecksumsDetectFlippedDataBytes) {
  // Large data is chunked with Fletcher-32; small data sits in the checksummed header.
  for (auto [n, detector] :
       {std::pair{128, "Fletcher32 checksum"}, std::pair{8, "incorrect metadata checksum"}}) {
    int64_t rows = n;  // a lambda below uses it (clang 14 cannot capture bindings)
    std::string path = temp_path("checksummed.h5");
    std::vector<float> values(rows * 64);
    for (size_t i = 0; i < values.size(); ++i) values[i] = 1000.0f + static_cast<float>(i);
    write_h5_atomically(path, [&](H5Store& s) {
      s.write_tensor("w", Tensor::from(values, {rows, 64}));
    });
    std::vector<char> bytes = file_bytes(path);
    // Find the stored float 1300.0f (little-endian) and change it by one bit.
    float needle = 1300.0f;
    auto it = std::search(bytes.begin(), bytes.end(), reinterpret_cast<char*>(&needle),
                          reinterpret_cast<char*>(&needle) + 4);
    ASSERT_NE(it, bytes.end());
    *it ^= 1;
    write_bytes_to(path, bytes);
    std::string e = error_of([&] { H5Store(path, H5Store::Mode::Read).read_tensor("w"); });
    EXPECT_NE(e.find(detector), std::string::npos) << rows << " rows: " << e;
  }
}

// read_rows keeps its dataset open between calls and HDF5 caches no chunk of it: every
// read of a row checks its chunk again, so a byte flipped after the first read is found.
TEST(H5Hostile, ReadRowsChecksEveryRead) {
  std::string path = temp_path("rows_flipped.h5");
  const int64_t rows = 4000, width = 8;
  std::vector<uint8_t> data(rows * width, 7);
  data[1234 * width + 3] = 99;  // the byte to find and flip
  write_h5_atomically(path, [&](H5Store& s) { s.write_bytes("x", data, {rows, width}); });
  H5Store s(path, H5Store::Mode::Read);
  std::vector<uint8_t> out(width);
  s.read_rows("x", {1234}, out.data());
  EXPECT_EQ(out[3], 99);
  std::vector<char> bytes = file_bytes(path);
  auto it = std::find(bytes.begin(), bytes.end(), static_cast<char>(99));
  ASSERT_NE(it, bytes.end());
  *it ^= 1;
  write_bytes_to(path, bytes);
  std::string e = error_of([&] { s.read_rows("x", {1234}, out.data()); });
  EXPECT_NE(e.find("Fletcher32 checksum"), std::string::npos) << e;
  std::remove(path.c_str());
}

TEST(H5Hostile, CorruptMetadataAnywhereGivesH5ErrorOrTheRightValues) {
  std::string good = temp_path("meta_good.h5"), bad = temp_path("meta_bad.h5");
  write_h5_atomically(good, [&](H5Store& s) {
    s.write_tensor("model/w", Tensor::from({1, 2, 3, 4}, {2, 2}));
    s.write_attr("/", "step", 3.0);
    s.write_attr("/", "name", "x");
  });
  std::vector<char> bytes = file_bytes(good);
  int errors = 0;
  for (size_t offset = 0; offset + 8 <= bytes.size(); offset += 3) {
    std::vector<char> b = bytes;
    for (size_t i = offset; i < offset + 8; ++i) b[i] = static_cast<char>(~b[i]);
    write_bytes_to(bad, b);
    try {  // anything but H5Error escaping (or a crash) fails the test
      H5Store s(bad, H5Store::Mode::Read);
      if (s.exists("model/w")) s.read_tensor("model/w");
      s.read_attr_int("/", "step", 0, 10);
      s.read_attr_string("/", "name");
    } catch (const H5Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 0);
}

TEST(H5Store, OpensAnInMemoryImage) {
  std::string path = temp_path("image.h5");
  write_h5_atomically(path, [&](H5Store& s) { s.write_tensor("w", Tensor::from({5, 6}, {2})); });
  std::vector<char> bytes = file_bytes(path);
  H5Store s("image", bytes.data(), bytes.size());
  EXPECT_EQ(s.read_tensor("w").to_vector(), (std::vector<float>{5, 6}));
  std::vector<char> garbage(100, 'x');
  EXPECT_THROW(H5Store("garbage", garbage.data(), garbage.size()), H5Error);
}

// Runs `body` with the file-size limit at `bytes` (SIGXFSZ ignored, so writes past it fail
// with EFBIG as on a full disk), then restores both.
void with_file_size_limit(rlim_t bytes, const std::function<void()>& body) {
  struct rlimit old {};
  getrlimit(RLIMIT_FSIZE, &old);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit lim = old;
  lim.rlim_cur = bytes;
  setrlimit(RLIMIT_FSIZE, &lim);
  try {
    body();
  } catch (...) {
    setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
    throw;
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
}

TEST(AtomicFile, FailedHdf5WriteKeepsThePreviousFile) {
  std::string path = temp_path("kept.h5");
  write_h5_atomically(path, [&](H5Store& s) { s.write_tensor("w", Tensor::from({1, 2}, {2})); });
  std::vector<char> before = file_bytes(path);
  std::string e;
  with_file_size_limit(64 * 1024, [&] {
    e = error_of([&] {
      write_h5_atomically(path, [&](H5Store& s) { s.write_tensor("w", Tensor::zeros({1 << 20})); });
    });
  });
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_EQ(file_bytes(path), before);
  EXPECT_EQ(H5Store(path, H5Store::Mode::Read).read_tensor("w").to_vector(),
            (std::vector<float>{1, 2}));
  EXPECT_FALSE(std::ifstream(path + ".tmp." + std::to_string(getpid())).good());
}

TEST(AtomicFile, FailedTextWriteKeepsThePreviousFile) {
  std::string path = temp_path("kept.json");
  write_text_atomically(path, "old\n");
  bool threw = false;
  with_file_size_limit(1024, [&] {
    try {
      write_text_atomically(path, std::string(1 << 20, 'x'));
    } catch (const FileError& e) {
      threw = std::string(e.what()).find(path) != std::string::npos;
    }
  });
  EXPECT_TRUE(threw);
  std::vector<char> after = file_bytes(path);
  EXPECT_EQ(std::string(after.begin(), after.end()), "old\n");
}

TEST(AtomicFile, RefusesToReplaceLinksAndDevices) {
  std::string target = temp_path("link_target.txt"), link = temp_path("link.txt");
  write_text_atomically(target, "keep\n");
  std::remove(link.c_str());
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  EXPECT_THROW(write_text_atomically(link, "new\n"), FileError);
  EXPECT_THROW(write_h5_atomically("/dev/null", [](H5Store&) {}), FileError);
  std::vector<char> kept = file_bytes(target);
  EXPECT_EQ(std::string(kept.begin(), kept.end()), "keep\n");
  std::remove(link.c_str());
}

TEST(AtomicFile, RemovesTemporariesOfDeadWriters) {
  // In a directory of its own: qemu-user (the armhf and aarch64 test runs) lists only
  // the first entries of a large directory on ext4 to a 32-bit guest.
  std::string dir_template = temp_path("stale.XXXXXX");
  ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
  std::string path = dir_template + "/stale.json";
  pid_t dead = 4194000;  // above any running pid here; checked below
  while (kill(dead, 0) == 0 || errno != ESRCH) --dead;
  std::string stale = path + ".tmp." + std::to_string(dead);
  std::string live = path + ".tmp.1";  // init is alive: its temporary is not ours to remove
  write_text_atomically(stale, "");    // (written through the same writer: a plain file)
  std::ofstream(live) << "x";
  write_text_atomically(path, "{}\n");
  EXPECT_FALSE(std::ifstream(stale).good());
  EXPECT_TRUE(std::ifstream(live).good());
  std::remove(live.c_str());
  std::remove(path.c_str());
  rmdir(dir_template.c_str());
}

}  // namespace
}  // namespace dapa
