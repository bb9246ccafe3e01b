// HDF5 tensor store; see h5.h.
#include "core/h5.h"

#include <H5Cpp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace dapa {

namespace {
[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw H5Error(path + ": " + what);
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

Shape shape_of(const H5::DataSet& ds) {
  H5::DataSpace sp = ds.getSpace();
  int rank = sp.getSimpleExtentNdims();
  std::vector<hsize_t> dims(rank);
  if (rank > 0) sp.getSimpleExtentDims(dims.data());
  return Shape(dims.begin(), dims.end());
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
}  // namespace

H5Store::H5Store(const std::string& path, Mode mode) : path_(path) {
  H5::Exception::dontPrint();
  try {
    if (mode == Mode::Read) {
      if (::access(path.c_str(), R_OK) != 0) fail(path, "no such file, or not readable");
      if (!H5::H5File::isHdf5(path)) fail(path, "not an HDF5 file");
      file_ = std::make_unique<H5::H5File>(path, H5F_ACC_RDONLY);
    } else {
      file_ = std::make_unique<H5::H5File>(path, H5F_ACC_TRUNC);
    }
  } catch (const H5::Exception& e) {
    fail(path, mode == Mode::Read ? "cannot open for reading (" + e.getDetailMsg() + ")"
                                  : "cannot create (" + e.getDetailMsg() + ")");
  }
}

H5Store::~H5Store() = default;

bool H5Store::exists(const std::string& name) const {
  // nameExists only checks the last link; walk the path one level at a time.
  std::string prefix;
  size_t start = name[0] == '/' ? 1 : 0;
  while (start <= name.size()) {
    size_t pos = name.find('/', start);
    prefix = name.substr(0, pos == std::string::npos ? name.size() : pos);
    if (!file_->nameExists(prefix)) return false;
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return true;
}

std::vector<std::string> H5Store::children(const std::string& group) const {
  std::vector<std::string> names;
  try {
    H5::Group g = file_->openGroup(group);
    for (hsize_t i = 0; i < g.getNumObjs(); ++i) names.push_back(g.getObjnameByIdx(i));
  } catch (const H5::Exception&) {
    fail(path_, "no group '" + group + "'");
  }
  return names;
}

Tensor H5Store::read_tensor(const std::string& name) const {
  if (!exists(name)) fail(path_, "missing dataset '" + name + "'");
  try {
    H5::DataSet ds = file_->openDataSet(name);
    if (ds.getTypeClass() != H5T_FLOAT && ds.getTypeClass() != H5T_INTEGER)
      fail(path_, "dataset '" + name + "' is not numeric");
    Tensor t = Tensor::empty(shape_of(ds));
    ds.read(t.data(), H5::PredType::NATIVE_FLOAT);
    return t;
  } catch (const H5::Exception& e) {
    fail(path_, "cannot read dataset '" + name + "' (" + e.getDetailMsg() + ")");
  }
}

Labels H5Store::read_labels(const std::string& name) const {
  if (!exists(name)) fail(path_, "missing dataset '" + name + "'");
  try {
    H5::DataSet ds = file_->openDataSet(name);
    if (ds.getTypeClass() != H5T_INTEGER) fail(path_, "dataset '" + name + "' is not integer");
    Labels out(shape_numel(shape_of(ds)));
    ds.read(out.data(), H5::PredType::NATIVE_INT32);
    return out;
  } catch (const H5::Exception& e) {
    fail(path_, "cannot read dataset '" + name + "' (" + e.getDetailMsg() + ")");
  }
}

std::vector<uint8_t> H5Store::read_bytes(const std::string& name, Shape* shape) const {
  if (!exists(name)) fail(path_, "missing dataset '" + name + "'");
  try {
    H5::DataSet ds = file_->openDataSet(name);
    if (ds.getTypeClass() != H5T_INTEGER) fail(path_, "dataset '" + name + "' is not integer");
    Shape s = shape_of(ds);
    std::vector<uint8_t> out(shape_numel(s));
    ds.read(out.data(), H5::PredType::NATIVE_UINT8);
    if (shape) *shape = s;
    return out;
  } catch (const H5::Exception& e) {
    fail(path_, "cannot read dataset '" + name + "' (" + e.getDetailMsg() + ")");
  }
}

Shape H5Store::dataset_shape(const std::string& name) const {
  if (!exists(name)) fail(path_, "missing dataset '" + name + "'");
  try {
    return shape_of(file_->openDataSet(name));
  } catch (const H5::Exception& e) {
    fail(path_, "cannot open dataset '" + name + "' (" + e.getDetailMsg() + ")");
  }
}

void H5Store::read_rows(const std::string& name, const std::vector<int64_t>& rows,
                        uint8_t* out) const {
  try {
    H5::DataSet ds = file_->openDataSet(name);
    Shape shape = shape_of(ds);
    int64_t row_size = shape_numel(shape) / std::max<int64_t>(shape[0], 1);
    // HDF5 reads a selection in file order: sort the rows, read them in one call, then
    // put each where it was asked for.
    std::vector<int64_t> order(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i] < 0 || rows[i] >= shape[0])
        fail(path_, "row " + std::to_string(rows[i]) + " outside dataset '" + name + "'");
      order[i] = static_cast<int64_t>(i);
    }
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return rows[a] < rows[b]; });
    H5::DataSpace file_space = ds.getSpace();
    file_space.selectNone();
    std::vector<hsize_t> start(shape.size(), 0), count(shape.begin(), shape.end());
    count[0] = 1;
    for (size_t i = 0; i < order.size();) {  // runs of consecutive rows become one block
      size_t j = i + 1;
      while (j < order.size() && rows[order[j]] == rows[order[j - 1]] + 1) ++j;
      start[0] = static_cast<hsize_t>(rows[order[i]]);
      count[0] = static_cast<hsize_t>(j - i);
      file_space.selectHyperslab(H5S_SELECT_OR, count.data(), start.data());
      i = j;
    }
    // Duplicate rows collapse in the selection; read distinct rows, then scatter.
    std::vector<int64_t> distinct;
    for (int64_t o : order)
      if (distinct.empty() || rows[distinct.back()] != rows[o]) distinct.push_back(o);
    std::vector<uint8_t> sorted(distinct.size() * row_size);
    hsize_t n = sorted.size();
    H5::DataSpace mem_space(1, &n);
    ds.read(sorted.data(), H5::PredType::NATIVE_UINT8, mem_space, file_space);
    size_t d = 0;
    for (size_t k = 0; k < order.size(); ++k) {
      if (k > 0 && rows[order[k]] != rows[order[k - 1]]) ++d;
      std::memcpy(out + order[k] * row_size, sorted.data() + d * row_size, row_size);
    }
  } catch (const H5::Exception& e) {
    fail(path_, "cannot read rows of '" + name + "' (" + e.getDetailMsg() + ")");
  }
}

void H5Store::write_tensor(const std::string& name, const Tensor& t) {
  try {
    make_parents(*file_, name);
    Tensor c = t.contiguous();
    H5::DataSet ds = file_->createDataSet(name, H5::PredType::IEEE_F32LE, space_of(t.shape()));
    ds.write(c.data(), H5::PredType::NATIVE_FLOAT);
  } catch (const H5::Exception& e) {
    fail(path_, "cannot write dataset '" + name + "' (" + e.getDetailMsg() + ")");
  }
}

void H5Store::write_doubles(const std::string& name, const std::vector<double>& values) {
  try {
    make_parents(*file_, name);
    H5::DataSet ds = file_->createDataSet(name, H5::PredType::IEEE_F64LE,
                                          space_of({static_cast<int64_t>(values.size())}));
    if (!values.empty()) ds.write(values.data(), H5::PredType::NATIVE_DOUBLE);
  } catch (const H5::Exception& e) {
    fail(path_, "cannot write dataset '" + name + "' (" + e.getDetailMsg() + ")");
  }
}

std::vector<double> H5Store::read_doubles(const std::string& name) const {
  if (!exists(name)) fail(path_, "missing dataset '" + name + "'");
  try {
    H5::DataSet ds = file_->openDataSet(name);
    if (ds.getTypeClass() != H5T_FLOAT && ds.getTypeClass() != H5T_INTEGER)
      fail(path_, "dataset '" + name + "' is not numeric");
    Shape shape = shape_of(ds);
    if (shape.size() != 1)
      fail(path_, "dataset '" + name + "' must be 1-D, got " + shape_str(shape));
    std::vector<double> out(shape[0]);
    if (!out.empty()) ds.read(out.data(), H5::PredType::NATIVE_DOUBLE);
    return out;
  } catch (const H5::Exception& e) {
    fail(path_, "cannot read dataset '" + name + "' (" + e.getDetailMsg() + ")");
  }
}

void H5Store::write_labels(const std::string& name, const Labels& labels) {
  try {
    make_parents(*file_, name);
    H5::DataSet ds = file_->createDataSet(name, H5::PredType::STD_I32LE,
                                          space_of({static_cast<int64_t>(labels.size())}));
    ds.write(labels.data(), H5::PredType::NATIVE_INT32);
  } catch (const H5::Exception& e) {
    fail(path_, "cannot write dataset '" + name + "' (" + e.getDetailMsg() + ")");
  }
}

void H5Store::write_bytes(const std::string& name, const std::vector<uint8_t>& data,
                          const Shape& shape) {
  if (static_cast<int64_t>(data.size()) != shape_numel(shape))
    fail(path_, "dataset '" + name + "': data does not fill shape " + shape_str(shape));
  try {
    make_parents(*file_, name);
    H5::DataSet ds = file_->createDataSet(name, H5::PredType::STD_U8LE, space_of(shape));
    ds.write(data.data(), H5::PredType::NATIVE_UINT8);
  } catch (const H5::Exception& e) {
    fail(path_, "cannot write dataset '" + name + "' (" + e.getDetailMsg() + ")");
  }
}

void H5Store::write_attr(const std::string& object, const std::string& key,
                         const std::string& value) {
  try {
    Object o = open_object(*file_, object);
    H5::H5Object* obj = o.get();
    H5::StrType type(H5::PredType::C_S1, value.empty() ? 1 : value.size());
    H5::Attribute a = obj->createAttribute(key, type, H5::DataSpace(H5S_SCALAR));
    a.write(type, value.empty() ? std::string(1, '\0') : value);
  } catch (const H5::Exception& e) {
    fail(path_, "cannot write attribute '" + key + "' (" + e.getDetailMsg() + ")");
  }
}

void H5Store::write_attr(const std::string& object, const std::string& key, double value) {
  try {
    Object o = open_object(*file_, object);
    H5::H5Object* obj = o.get();
    H5::Attribute a =
        obj->createAttribute(key, H5::PredType::IEEE_F64LE, H5::DataSpace(H5S_SCALAR));
    a.write(H5::PredType::NATIVE_DOUBLE, &value);
  } catch (const H5::Exception& e) {
    fail(path_, "cannot write attribute '" + key + "' (" + e.getDetailMsg() + ")");
  }
}

void H5Store::write_attr(const std::string& object, const std::string& key,
                         const std::vector<double>& values) {
  try {
    Object o = open_object(*file_, object);
    hsize_t n = values.size();
    H5::Attribute a = o.get()->createAttribute(key, H5::PredType::IEEE_F64LE, H5::DataSpace(1, &n));
    a.write(H5::PredType::NATIVE_DOUBLE, values.data());
  } catch (const H5::Exception& e) {
    fail(path_, "cannot write attribute '" + key + "' (" + e.getDetailMsg() + ")");
  }
}

bool H5Store::has_attr(const std::string& object, const std::string& key) const {
  try {
    Object o = open_object(*file_, object);
    return o.get()->attrExists(key);
  } catch (const H5::Exception&) {
    return false;
  }
}

std::string H5Store::read_attr_string(const std::string& object, const std::string& key) const {
  if (!has_attr(object, key)) fail(path_, "missing attribute '" + key + "' on '" + object + "'");
  try {
    Object o = open_object(*file_, object);
    H5::Attribute a = o.get()->openAttribute(key);
    std::string value;
    a.read(a.getStrType(), value);
    return value;
  } catch (const H5::Exception& e) {
    fail(path_, "cannot read attribute '" + key + "' (" + e.getDetailMsg() + ")");
  }
}

double H5Store::read_attr_double(const std::string& object, const std::string& key) const {
  if (!has_attr(object, key)) fail(path_, "missing attribute '" + key + "' on '" + object + "'");
  try {
    Object o = open_object(*file_, object);
    H5::Attribute a = o.get()->openAttribute(key);
    double v = 0.0;
    a.read(H5::PredType::NATIVE_DOUBLE, &v);
    return v;
  } catch (const H5::Exception& e) {
    fail(path_, "cannot read attribute '" + key + "' (" + e.getDetailMsg() + ")");
  }
}

namespace {
// Writes through `write(tmp)` into a temporary file beside `path`, then renames it over
// `path`; on any error the temporary is removed and `path` is left as it was.
void replace_atomically(const std::string& path,
                        const std::function<void(const std::string& tmp)>& write) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    write(tmp);
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      fail(path, "cannot replace with the new file " + tmp);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}
}  // namespace

void write_h5_atomically(const std::string& path, const std::function<void(H5Store&)>& fill) {
  replace_atomically(path, [&](const std::string& tmp) {
    H5Store store(tmp, H5Store::Mode::Truncate);
    fill(store);
  });  // the store is closed (flushed) before the rename
}

void write_text_atomically(const std::string& path, const std::string& text) {
  replace_atomically(path, [&](const std::string& tmp) {
    std::ofstream f(tmp);
    f << text;
    f.close();
    if (!f) fail(path, "cannot write " + tmp);
  });
}

std::vector<double> H5Store::read_attr_doubles(const std::string& object,
                                               const std::string& key) const {
  if (!has_attr(object, key)) fail(path_, "missing attribute '" + key + "' on '" + object + "'");
  try {
    Object o = open_object(*file_, object);
    H5::Attribute a = o.get()->openAttribute(key);
    std::vector<double> v(a.getSpace().getSimpleExtentNpoints());
    a.read(H5::PredType::NATIVE_DOUBLE, v.data());
    return v;
  } catch (const H5::Exception& e) {
    fail(path_, "cannot read attribute '" + key + "' (" + e.getDetailMsg() + ")");
  }
}

}  // namespace dapa
