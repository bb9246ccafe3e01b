// HDF5 tensor store; see h5.h.
#include "core/h5.h"

#include <H5Cpp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace dapa {

namespace {
[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw H5Error(path + ": " + what);
}

// Limits on what a file may declare before we believe it: dimensions and element counts
// (products must not overflow), attribute sizes, and how many bytes a filtered (e.g.
// compressed) dataset may expand to per stored byte (deflate's ceiling is about 1032).
constexpr int64_t kMaxElements = int64_t{1} << 36;
constexpr int64_t kMaxAttrValues = int64_t{1} << 20;
constexpr size_t kMaxAttrString = size_t{1} << 26;
constexpr double kMaxFilterExpansion = 1100.0;
// Chunks of about this many bytes (whole rows): small enough that serving a random
// batch of images reads little beyond the rows asked for. Datasets up to kCompactBytes
// are stored compact (no chunk index).
constexpr int64_t kChunkBytes = 4096, kCompactBytes = 16384;

// The innermost message on HDF5's error stack (the cause, e.g. "data error detected by
// fletcher32 checksum") of the last failure, recorded by HDF5's error callback when the
// failing call returns: by the time an exception is caught, unwinding has closed objects
// and every HDF5 call clears the stack.
std::string& last_cause() {
  static std::string cause;
  return cause;
}

herr_t record_cause(hid_t stack, void*) {
  std::string inner;
  H5Ewalk2(
      stack, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* err, void* out) -> herr_t {
        if (err->desc && *err->desc) *static_cast<std::string*>(out) = err->desc;
        return 0;
      },
      &inner);
  if (!inner.empty()) last_cause() = inner;
  return 0;
}

void install_error_recorder() {
  // Reading some corrupt files leaves HDF5's free lists in a state its exit-time shutdown
  // cannot clear: it then prints "infinite loop closing library" after our one-line
  // error. Without free lists (plain malloc and free) there is nothing to clear.
  static const bool no_free_lists = H5set_free_list_limits(0, 0, 0, 0, 0, 0) >= 0;
  (void)no_free_lists;
  H5Eset_auto2(H5E_DEFAULT, record_cause, nullptr);  // instead of printing the stack
}

std::string describe(const std::string& outer) {
  const std::string& inner = last_cause();
  if (inner.empty() || inner == outer) return outer;
  return outer + ": " + inner;
}

// The one error boundary: HDF5's exceptions (not std::exceptions) become H5Error.
template <class F>
auto guarded(const std::string& path, const std::string& what, F&& body) -> decltype(body()) {
  last_cause().clear();
  try {
    return body();
  } catch (const H5::Exception& e) {
    fail(path, "cannot " + what + " (" + describe(e.getDetailMsg()) + ")");
  }
}

// C API handles for the write path, closed quietly when a step already failed: the C++
// wrappers' destructors print a line of their own when a close fails.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  Handle(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id >= 0) close(id);
  }
  // Closes now; false when the close (which writes out cached data) failed.
  bool close_checked() {
    herr_t rc = close(id);
    id = -1;
    return rc >= 0;
  }
};

// HDF5 1.10's H5Fget_file_image clears the "open for writing" flag in the image's version
// 2 superblock but leaves the checksum computed with it set, so readers would refuse
// the file. This recomputes it with HDF5's own metadata checksum (exported by the
// library since 1.8.7, declared in its private headers only).
extern "C" uint32_t H5_checksum_metadata(const void* data, size_t len, uint32_t initval);

void reseal_superblock(std::vector<char>& image) {
  static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  if (image.size() < 12 || std::memcmp(image.data(), kSignature, 8) != 0 || image[8] != 2) return;
  size_t covered = 12 + 4 * static_cast<size_t>(static_cast<uint8_t>(image[9]));
  if (image.size() < covered + 4) return;
  uint32_t sum = H5_checksum_metadata(image.data(), covered, 0);
  for (int b = 0; b < 4; ++b) image[covered + b] = static_cast<char>(sum >> (8 * b));
}

void check(bool ok, const std::string& path, const std::string& what) {
  if (!ok) fail(path, "cannot " + what + " (" + describe("HDF5 call failed") + ")");
}

// Creates the parent groups of "a/b/c" (a and a/b) when missing.
void make_parents(H5::H5File& f, const std::string& name) {
  for (size_t pos = name.find('/', 1); pos != std::string::npos; pos = name.find('/', pos + 1)) {
    std::string g = name.substr(0, pos);
    if (!f.nameExists(g)) f.createGroup(g);
  }
}

H5::DataSpace space_of(const Shape& shape) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  return shape.empty() ? H5::DataSpace(H5S_SCALAR)
                       : H5::DataSpace(static_cast<int>(dims.size()), dims.data());
}

// The dataset's shape, after checking that its element count is sane and that the file
// stores the bytes it declares: unfiltered data must be all there, filtered data may
// expand at most kMaxFilterExpansion times. Checked before any buffer is allocated.
Shape checked_shape(const std::string& path, const std::string& name, const H5::DataSet& ds) {
  H5::DataSpace sp = ds.getSpace();
  int rank = sp.getSimpleExtentNdims();
  if (rank < 0 || rank > 8) fail(path, "dataset '" + name + "' has an unsupported rank");
  std::vector<hsize_t> dims(rank);
  if (rank > 0) sp.getSimpleExtentDims(dims.data());
  double numel = 1;
  for (hsize_t d : dims) numel *= static_cast<double>(d);
  if (numel > static_cast<double>(kMaxElements))
    fail(path, "dataset '" + name + "' declares an absurd size");
  double declared = numel * static_cast<double>(ds.getDataType().getSize());
  double stored = static_cast<double>(ds.getStorageSize());
  bool filtered = ds.getCreatePlist().getNfilters() > 0;
  if (numel > 0 && (filtered ? declared > stored * kMaxFilterExpansion : stored < declared))
    fail(path, "dataset '" + name + "' declares " + std::to_string(static_cast<int64_t>(declared)) +
                   " bytes but the file stores " + std::to_string(static_cast<int64_t>(stored)) +
                   " (truncated or corrupt)");
  return Shape(dims.begin(), dims.end());
}

void require_numeric(const std::string& path, const std::string& name, const H5::DataSet& ds) {
  H5T_class_t c = ds.getTypeClass();
  if (c != H5T_FLOAT && c != H5T_INTEGER) fail(path, "dataset '" + name + "' is not numeric");
}

// Image and byte datasets must be stored as unsigned bytes: HDF5 would otherwise convert
// (clamp or truncate) floats and wider integers silently.
void require_bytes(const std::string& path, const std::string& name, const H5::DataSet& ds) {
  if (ds.getTypeClass() != H5T_INTEGER || ds.getIntType().getSize() != 1 ||
      ds.getIntType().getSign() != H5T_SGN_NONE)
    fail(path, "dataset '" + name + "' must hold unsigned 8-bit integers");
}

// An attribute holder: the root group, or a named group or dataset.
struct Object {
  H5::Group group;
  H5::DataSet dataset;
  bool is_dataset = false;
  H5::H5Object* get() { return is_dataset ? static_cast<H5::H5Object*>(&dataset) : &group; }
};

Object open_object(H5::H5File& f, const std::string& object) {
  Object o;
  if (object.empty() || object == "/") {
    o.group = f.openGroup("/");
  } else if (f.childObjType(object) == H5O_TYPE_GROUP) {
    o.group = f.openGroup(object);
  } else {
    o.dataset = f.openDataSet(object);
    o.is_dataset = true;
  }
  return o;
}

// The attribute `key` with its value count checked against [min_values, max_values].
H5::Attribute open_attr(const std::string& path, H5::Attribute a, const std::string& key,
                        int64_t min_values, int64_t max_values) {
  H5::DataSpace sp = a.getSpace();
  int rank = sp.getSimpleExtentNdims();
  int64_t n = sp.getSimpleExtentNpoints();
  if (rank > 1 || n < min_values || n > max_values)
    fail(path, "attribute '" + key + "' must hold " +
                   (min_values == max_values ? std::to_string(min_values)
                                             : "at most " + std::to_string(max_values)) +
                   " value(s), holds " + std::to_string(n));
  return a;
}
}  // namespace

H5Store::H5Store(const std::string& path, Mode mode) : path_(path) {
  install_error_recorder();
  if (mode == Mode::Read) {
    if (::access(path.c_str(), R_OK) != 0) fail(path, "no such file, or not readable");
    guarded(path, "open for reading", [&] {
      if (!H5::H5File::isHdf5(path)) fail(path, "not an HDF5 file");
      file_ = std::make_unique<H5::H5File>(path, H5F_ACC_RDONLY);
    });
  } else {
    guarded(path, "create", [&] {
      // The 1.8+ format: object headers and the superblock carry checksums. The file is
      // built in memory (core driver, no backing store) and written by close(): HDF5
      // 1.10 cannot recover from a failed write to disk (a second close of such a file,
      // even the library's own at exit, crashes), so it never writes to disk itself.
      H5::FileAccPropList fapl;
      H5Pset_libver_bounds(fapl.getId(), H5F_LIBVER_V18, H5F_LIBVER_V18);
      H5Pset_fapl_core(fapl.getId(), 1 << 20, false);
      file_ =
          std::make_unique<H5::H5File>(path, H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT, fapl);
    });
    writing_ = true;
  }
}

H5Store::H5Store(const std::string& name, const void* image, size_t size) : path_(name) {
  install_error_recorder();
  guarded(name, "open the in-memory file", [&] {
    H5::FileAccPropList fapl;
    H5Pset_fapl_core(fapl.getId(), 1 << 16, false);
    H5Pset_file_image(fapl.getId(), const_cast<void*>(image), size);
    file_ =
        std::make_unique<H5::H5File>(name, H5F_ACC_RDONLY, H5::FileCreatPropList::DEFAULT, fapl);
  });
}

// In memory or read only: closing does no I/O that can fail. row_sources_, declared after
// file_, closes its datasets before the file.
H5Store::~H5Store() = default;

void H5Store::close() {
  row_sources_.clear();
  if (!file_) return;
  if (!writing_) return file_.reset();
  std::vector<char> image = guarded(path_, "finish the file", [&] {
    file_->flush(H5F_SCOPE_GLOBAL);
    ssize_t size = H5Fget_file_image(file_->getId(), nullptr, 0);
    check(size > 0, path_, "finish the file");
    std::vector<char> bytes(static_cast<size_t>(size));
    check(H5Fget_file_image(file_->getId(), bytes.data(), bytes.size()) == size, path_,
          "finish the file");
    reseal_superblock(bytes);
    return bytes;
  });
  file_.reset();
  write_file(path_, image.data(), image.size());
}

bool H5Store::exists(const std::string& name) const {
  return guarded(path_, "look up '" + name + "'", [&] {
    // nameExists only checks the last link; walk the path one level at a time.
    size_t start = !name.empty() && name[0] == '/' ? 1 : 0;
    while (start <= name.size()) {
      size_t pos = name.find('/', start);
      if (!file_->nameExists(name.substr(0, pos == std::string::npos ? name.size() : pos)))
        return false;
      if (pos == std::string::npos) break;
      start = pos + 1;
    }
    return true;
  });
}

std::vector<std::string> H5Store::children(const std::string& group) const {
  if (!exists(group)) fail(path_, "no group '" + group + "'");
  return guarded(path_, "list group '" + group + "'", [&] {
    std::vector<std::string> names;
    H5::Group g = file_->openGroup(group);
    for (hsize_t i = 0; i < g.getNumObjs(); ++i) names.push_back(g.getObjnameByIdx(i));
    return names;
  });
}

Tensor H5Store::read_tensor(const std::string& name) const {
  if (!exists(name)) fail(path_, "missing dataset '" + name + "'");
  return guarded(path_, "read dataset '" + name + "'", [&] {
    H5::DataSet ds = file_->openDataSet(name);
    require_numeric(path_, name, ds);
    Tensor t = Tensor::empty(checked_shape(path_, name, ds));
    if (t.numel() > 0) ds.read(t.data(), H5::PredType::NATIVE_FLOAT);
    return t;
  });
}

Labels H5Store::read_labels(const std::string& name) const {
  if (!exists(name)) fail(path_, "missing dataset '" + name + "'");
  return guarded(path_, "read dataset '" + name + "'", [&] {
    H5::DataSet ds = file_->openDataSet(name);
    if (ds.getTypeClass() != H5T_INTEGER) fail(path_, "dataset '" + name + "' is not integer");
    Labels out(shape_numel(checked_shape(path_, name, ds)));
    if (!out.empty()) ds.read(out.data(), H5::PredType::NATIVE_INT32);
    return out;
  });
}

std::vector<uint8_t> H5Store::read_bytes(const std::string& name, Shape* shape) const {
  if (!exists(name)) fail(path_, "missing dataset '" + name + "'");
  return guarded(path_, "read dataset '" + name + "'", [&] {
    H5::DataSet ds = file_->openDataSet(name);
    require_bytes(path_, name, ds);
    Shape s = checked_shape(path_, name, ds);
    std::vector<uint8_t> out(shape_numel(s));
    if (!out.empty()) ds.read(out.data(), H5::PredType::NATIVE_UINT8);
    if (shape) *shape = s;
    return out;
  });
}

Shape H5Store::dataset_shape(const std::string& name) const {
  if (!exists(name)) fail(path_, "missing dataset '" + name + "'");
  return guarded(path_, "open dataset '" + name + "'",
                 [&] { return checked_shape(path_, name, file_->openDataSet(name)); });
}

std::string H5Store::dataset_type(const std::string& name) const {
  if (!exists(name)) fail(path_, "missing dataset '" + name + "'");
  return guarded(path_, "open dataset '" + name + "'", [&]() -> std::string {
    H5::DataSet ds = file_->openDataSet(name);
    std::string bits = std::to_string(8 * ds.getDataType().getSize());
    if (ds.getTypeClass() == H5T_FLOAT) return "float" + bits;
    if (ds.getTypeClass() != H5T_INTEGER) return "other";
    return (ds.getIntType().getSign() == H5T_SGN_NONE ? "uint" : "int") + bits;
  });
}

// A dataset read_rows serves: opened and checked once, with its file space.
struct RowSource {
  H5::DataSet ds;
  H5::DataSpace file_space;
  Shape shape;
  int64_t row_size;
  int64_t chunk_rows;  // > 0: read chunk by chunk (direct_chunk_rows)
};

namespace {
// HDF5's Fletcher-32 as its fletcher32 filter computes it (H5checksum.c): the data as
// 16-bit big-endian words (an odd last byte is a word's high half), both sums folded
// to 16 bits every 360 words and at the end.
uint32_t fletcher32(const uint8_t* data, size_t bytes) {
  uint32_t sum1 = 0, sum2 = 0;
  auto fold = [&] {
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  };
  for (size_t words = bytes / 2; words > 0;) {
    const size_t run = std::min<size_t>(words, 360);
    words -= run;
    for (size_t w = 0; w < run; ++w, data += 2) {
      sum1 += static_cast<uint32_t>(data[0]) << 8 | data[1];
      sum2 += sum1;
    }
    fold();
  }
  if (bytes % 2) {
    sum1 += static_cast<uint32_t>(data[0]) << 8;
    sum2 += sum1;
    fold();
  }
  fold();
  return sum2 << 16 | sum1;
}

// The rows per chunk when read_rows may read a dataset's chunks itself: chunks of whole
// rows with HDF5's Fletcher-32 filter and no other (what write_bytes makes). Else 0: the
// dataset goes through H5Dread (any layout and filters HDF5 supports).
int64_t direct_chunk_rows(const H5::DataSet& ds, const Shape& shape) {
  Handle dcpl(H5Dget_create_plist(ds.getId()), H5Pclose);
  const int rank = static_cast<int>(shape.size());
  std::vector<hsize_t> chunk(shape.size());
  if (dcpl.id < 0 || H5Pget_layout(dcpl.id) != H5D_CHUNKED ||
      H5Pget_chunk(dcpl.id, rank, chunk.data()) != rank || H5Pget_nfilters(dcpl.id) != 1)
    return 0;
  for (int d = 1; d < rank; ++d)
    if (chunk[d] != static_cast<hsize_t>(shape[d])) return 0;
  unsigned flags = 0, config = 0;
  size_t values = 0;
  if (H5Pget_filter2(dcpl.id, 0, &flags, &values, nullptr, 0, nullptr, &config) !=
      H5Z_FILTER_FLETCHER32)
    return 0;
  return static_cast<int64_t>(chunk[0]);
}

// Chunk c of a direct_chunk_rows dataset into `bytes` (its chunk_rows rows), with its
// checksum checked as the filter checks it (the stored sum, little-endian, after the
// data; also accepted with each 16-bit half byte-swapped, as older HDF5 wrote it).
// H5Dread_chunk skips the selection, conversion and chunk-cache machinery that a
// one-row H5Dread runs (about 20 us a row here).
void read_chunk(const std::string& path, const std::string& name, const RowSource& source,
                int64_t c, std::vector<uint8_t>& bytes) {
  std::vector<hsize_t> offset(source.shape.size(), 0);
  offset[0] = static_cast<hsize_t>(c * source.chunk_rows);
  const auto data_bytes = static_cast<size_t>(source.chunk_rows * source.row_size);
  const std::string chunk = "chunk " + std::to_string(c) + " of dataset '" + name + "'";
  hsize_t stored = 0;
  if (H5Dget_chunk_storage_size(source.ds.getId(), offset.data(), &stored) < 0 ||
      (stored != data_bytes && stored != data_bytes + 4))
    fail(path, chunk + " is missing or not the size of its rows (truncated or corrupt)");
  bytes.resize(stored);
  uint32_t skipped = 0;  // bit 0: the filter did not run on this chunk (no checksum)
  if (H5Dread_chunk(source.ds.getId(), H5P_DEFAULT, offset.data(), &skipped, bytes.data()) < 0)
    fail(path, "cannot read " + chunk + " (" + describe("H5Dread_chunk failed") + ")");
  if ((skipped & 1) != 0) {
    if (stored != data_bytes) fail(path, chunk + " has bytes past its rows (corrupt)");
    return;
  }
  if (stored != data_bytes + 4) fail(path, chunk + " has no checksum (corrupt)");
  const uint8_t* sum = bytes.data() + data_bytes;
  const uint32_t expected = static_cast<uint32_t>(sum[0]) | static_cast<uint32_t>(sum[1]) << 8 |
                            static_cast<uint32_t>(sum[2]) << 16 |
                            static_cast<uint32_t>(sum[3]) << 24;
  const uint32_t f = fletcher32(bytes.data(), data_bytes);
  const uint32_t swapped = (f & 0x00ff00ffu) << 8 | (f & 0xff00ff00u) >> 8;
  if (expected != f && expected != swapped)
    fail(path, chunk + ": data error detected by Fletcher32 checksum");
}

// The sorted rows `distinct` of a direct_chunk_rows dataset, chunk by chunk.
void read_by_chunks(const std::string& path, const std::string& name, const RowSource& source,
                    const std::vector<int64_t>& distinct, uint8_t* out) {
  std::vector<uint8_t> chunk;
  int64_t in_chunk = -1;  // the chunk `chunk` holds
  for (size_t i = 0; i < distinct.size(); ++i) {
    const int64_t c = distinct[i] / source.chunk_rows;
    if (c != in_chunk) read_chunk(path, name, source, c, chunk);
    in_chunk = c;
    std::memcpy(out + i * source.row_size,
                chunk.data() + (distinct[i] - c * source.chunk_rows) * source.row_size,
                source.row_size);
  }
}

// The sorted rows `distinct` of any other dataset by H5Dread, each run of consecutive rows
// into a memory space of the run's own shape: HDF5 1.10 maps a file selection onto the
// chunks element by element unless the memory selection has the same shape, and a union
// of many row blocks is slower still (128 random Fashion-MNIST rows: 8-10 ms as one union
// into a flat buffer, 2 ms run by run into same-shaped buffers).
void read_by_runs(RowSource& source, const std::vector<int64_t>& distinct, uint8_t* out) {
  std::vector<hsize_t> start(source.shape.size(), 0),
      count(source.shape.begin(), source.shape.end());
  for (size_t i = 0; i < distinct.size();) {
    size_t j = i + 1;
    while (j < distinct.size() && distinct[j] == distinct[j - 1] + 1) ++j;
    start[0] = static_cast<hsize_t>(distinct[i]);
    count[0] = static_cast<hsize_t>(j - i);
    source.file_space.selectHyperslab(H5S_SELECT_SET, count.data(), start.data());
    H5::DataSpace mem_space(static_cast<int>(count.size()), count.data());
    source.ds.read(out + i * source.row_size, H5::PredType::NATIVE_UINT8, mem_space,
                   source.file_space);
    i = j;
  }
}
}  // namespace

void H5Store::read_rows(const std::string& name, const std::vector<int64_t>& rows,
                        uint8_t* out) const {
  guarded(path_, "read rows of '" + name + "'", [&] {
    std::unique_ptr<RowSource>& source = row_sources_[name];
    if (!source) {
      // No chunk cache: rows are read at random, and for datasets read_by_runs reads,
      // the default's 1 MiB per open dataset would hold chunks rarely asked for again
      // (read_by_chunks bypasses it).
      H5::DSetAccPropList dapl;
      H5Pset_chunk_cache(dapl.getId(), 0, 0, 1.0);
      H5::DataSet ds = file_->openDataSet(name, dapl);
      require_bytes(path_, name, ds);
      Shape shape = checked_shape(path_, name, ds);
      if (shape.empty()) fail(path_, "dataset '" + name + "' has no rows");
      const int64_t row_size = shape_numel(shape) / std::max<int64_t>(shape[0], 1);
      source.reset(new RowSource{ds, ds.getSpace(), shape, row_size, direct_chunk_rows(ds, shape)});
    }
    const Shape& shape = source->shape;
    const int64_t row_size = source->row_size;
    // Sort the rows (duplicates read once), read them, then put each row where it was
    // asked for.
    std::vector<int64_t> order(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i] < 0 || rows[i] >= shape[0])
        fail(path_, "row " + std::to_string(rows[i]) + " outside dataset '" + name + "'");
      order[i] = static_cast<int64_t>(i);
    }
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return rows[a] < rows[b]; });
    std::vector<int64_t> distinct;  // sorted rows, each once
    for (int64_t o : order)
      if (distinct.empty() || distinct.back() != rows[o]) distinct.push_back(rows[o]);
    std::vector<uint8_t> sorted(distinct.size() * row_size);
    if (source->chunk_rows > 0)
      read_by_chunks(path_, name, *source, distinct, sorted.data());
    else
      read_by_runs(*source, distinct, sorted.data());
    size_t d = 0;
    for (size_t k = 0; k < order.size(); ++k) {
      if (k > 0 && rows[order[k]] != rows[order[k - 1]]) ++d;
      std::memcpy(out + order[k] * row_size, sorted.data() + d * row_size, row_size);
    }
  });
}

void H5Store::write_dataset(const std::string& name, const H5::PredType& file_type,
                            const H5::PredType& mem_type, const void* data, const Shape& shape) {
  std::string what = "write dataset '" + name + "'";
  guarded(path_, what, [&] { make_parents(*file_, name); });
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  int64_t n = shape_numel(shape), bytes = n * static_cast<int64_t>(H5Tget_size(file_type.getId()));
  if (bytes <= kCompactBytes) {
    // Small data lives in the object header, which the 1.8 format checksums.
    check(H5Pset_layout(dcpl.id, H5D_COMPACT) >= 0, path_, what);
  } else {
    // Chunks of whole rows, each with its Fletcher-32 checksum.
    std::vector<hsize_t> chunk(shape.begin(), shape.end());
    int64_t row_bytes = bytes / shape[0];
    chunk[0] = static_cast<hsize_t>(std::clamp<int64_t>(kChunkBytes / row_bytes, 1, shape[0]));
    check(H5Pset_chunk(dcpl.id, static_cast<int>(chunk.size()), chunk.data()) >= 0 &&
              H5Pset_fletcher32(dcpl.id) >= 0,
          path_, what);
  }
  H5::DataSpace space = space_of(shape);
  Handle ds(H5Dcreate2(file_->getId(), name.c_str(), file_type.getId(), space.getId(), H5P_DEFAULT,
                       dcpl.id, H5P_DEFAULT),
            H5Dclose);
  check(ds.id >= 0, path_, what);
  check(n == 0 || H5Dwrite(ds.id, mem_type.getId(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0,
        path_, what);
  check(ds.close_checked(), path_, what);  // chunks are written out here
}

void H5Store::write_tensor(const std::string& name, const Tensor& t) {
  Tensor c = t.contiguous();
  write_dataset(name, H5::PredType::IEEE_F32LE, H5::PredType::NATIVE_FLOAT, c.data(), t.shape());
}

void H5Store::write_doubles(const std::string& name, const std::vector<double>& values) {
  write_dataset(name, H5::PredType::IEEE_F64LE, H5::PredType::NATIVE_DOUBLE, values.data(),
                {static_cast<int64_t>(values.size())});
}

std::vector<double> H5Store::read_doubles(const std::string& name) const {
  if (!exists(name)) fail(path_, "missing dataset '" + name + "'");
  return guarded(path_, "read dataset '" + name + "'", [&] {
    H5::DataSet ds = file_->openDataSet(name);
    require_numeric(path_, name, ds);
    Shape shape = checked_shape(path_, name, ds);
    if (shape.size() != 1)
      fail(path_, "dataset '" + name + "' must be 1-D, got " + shape_str(shape));
    std::vector<double> out(shape[0]);
    if (!out.empty()) ds.read(out.data(), H5::PredType::NATIVE_DOUBLE);
    return out;
  });
}

void H5Store::write_labels(const std::string& name, const Labels& labels) {
  write_dataset(name, H5::PredType::STD_I32LE, H5::PredType::NATIVE_INT32, labels.data(),
                {static_cast<int64_t>(labels.size())});
}

void H5Store::write_u16(const std::string& name, const std::vector<uint16_t>& values) {
  write_dataset(name, H5::PredType::STD_U16LE, H5::PredType::NATIVE_UINT16, values.data(),
                {static_cast<int64_t>(values.size())});
}

void H5Store::write_bytes(const std::string& name, const std::vector<uint8_t>& data,
                          const Shape& shape) {
  if (static_cast<int64_t>(data.size()) != shape_numel(shape))
    fail(path_, "dataset '" + name + "': data does not fill shape " + shape_str(shape));
  write_dataset(name, H5::PredType::STD_U8LE, H5::PredType::NATIVE_UINT8, data.data(), shape);
}

void H5Store::write_attr(const std::string& object, const std::string& key,
                         const std::string& value) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.id, value.empty() ? 1 : value.size());
  write_attr(object, key, type.id, value.empty() ? "" : value.data(), {});
}

void H5Store::write_attr(const std::string& object, const std::string& key, double value) {
  write_attr(object, key, H5T_IEEE_F64LE, &value, {});
}

void H5Store::write_attr(const std::string& object, const std::string& key,
                         const std::vector<double>& values) {
  write_attr(object, key, H5T_IEEE_F64LE, values.data(), {static_cast<int64_t>(values.size())});
}

void H5Store::write_attr(const std::string& object, const std::string& key, int64_t type,
                         const void* data, const Shape& shape) {
  std::string what = "write attribute '" + key + "'";
  Object o = guarded(path_, what, [&] { return open_object(*file_, object); });
  H5::DataSpace space = space_of(shape);
  // Doubles are stored as IEEE float64 and given as native doubles; strings as themselves.
  hid_t mem_type = type == H5T_IEEE_F64LE ? H5T_NATIVE_DOUBLE : type;
  Handle a(H5Acreate2(o.get()->getId(), key.c_str(), type, space.getId(), H5P_DEFAULT, H5P_DEFAULT),
           H5Aclose);
  check(a.id >= 0 && H5Awrite(a.id, mem_type, data) >= 0 && a.close_checked(), path_, what);
}

bool H5Store::has_attr(const std::string& object, const std::string& key) const {
  try {
    Object o = open_object(*file_, object);
    return o.get()->attrExists(key);
  } catch (const H5::Exception&) {
    return false;
  }
}

H5::Attribute H5Store::attribute(const std::string& object, const std::string& key) const {
  if (!has_attr(object, key)) fail(path_, "missing attribute '" + key + "' on '" + object + "'");
  Object o = open_object(*file_, object);
  return o.get()->openAttribute(key);
}

std::string H5Store::read_attr_string(const std::string& object, const std::string& key) const {
  return guarded(path_, "read attribute '" + key + "'", [&] {
    H5::Attribute a = open_attr(path_, attribute(object, key), key, 1, 1);
    if (a.getTypeClass() != H5T_STRING) fail(path_, "attribute '" + key + "' must be a string");
    H5::StrType type = a.getStrType();
    if (!type.isVariableStr() && type.getSize() > kMaxAttrString)
      fail(path_, "attribute '" + key + "' is an absurdly long string");
    std::string value;
    a.read(type, value);
    return value;
  });
}

double H5Store::read_attr_double(const std::string& object, const std::string& key) const {
  return read_attr_doubles(object, key, 1, 1)[0];
}

int64_t H5Store::read_attr_int(const std::string& object, const std::string& key, int64_t min,
                               int64_t max) const {
  double v = read_attr_double(object, key);
  if (!(v >= static_cast<double>(min) && v <= static_cast<double>(max)) || v != std::floor(v))
    fail(path_, "attribute '" + key + "' must be a whole number from " + std::to_string(min) +
                    " to " + std::to_string(max) + ", got " + std::to_string(v));
  return static_cast<int64_t>(v);
}

std::vector<double> H5Store::read_attr_doubles(const std::string& object,
                                               const std::string& key) const {
  return read_attr_doubles(object, key, 0, kMaxAttrValues);
}

std::vector<double> H5Store::read_attr_doubles(const std::string& object, const std::string& key,
                                               int64_t min_values, int64_t max_values) const {
  return guarded(path_, "read attribute '" + key + "'", [&] {
    H5::Attribute a = open_attr(path_, attribute(object, key), key, min_values, max_values);
    if (a.getTypeClass() != H5T_FLOAT && a.getTypeClass() != H5T_INTEGER)
      fail(path_, "attribute '" + key + "' must be numeric");
    std::vector<double> v(a.getSpace().getSimpleExtentNpoints());
    if (!v.empty()) a.read(H5::PredType::NATIVE_DOUBLE, v.data());
    return v;
  });
}

void write_h5_atomically(const std::string& path, const std::function<void(H5Store&)>& fill) {
  replace_atomically(path, [&](const std::string& tmp) {
    try {
      H5Store store(tmp, H5Store::Mode::Truncate);
      fill(store);
      store.close();  // checked: a write that did not reach the file throws here
    } catch (const std::runtime_error& e) {  // named after the file the caller asked for
      std::string what = e.what();
      if (what.compare(0, tmp.size(), tmp) != 0) throw;
      fail(path, what.substr(std::min(what.size(), tmp.size() + 2)));
    }
  });
}

}  // namespace dapa
