// Text corpora and the token file; see text.h.
#include "data/text.h"

#include "data/tokenizer.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "core/atomic_file.h"
#include "core/h5.h"
#include "data/idx.h"

namespace dapa {

namespace fs = std::filesystem;

namespace {
constexpr int64_t kTextFormatVersion = 1;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw DataError(path + ": " + what);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open (no such file, or not readable)");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(path, "read error");
  return text;
}

bool closes(const std::string& w) {  // no space before it
  static const char* kClosing[] = {",", ".", ";", ":", "?", "!", ")", "]", "}", "''"};
  return std::find(std::begin(kClosing), std::end(kClosing), w) != std::end(kClosing);
}
bool opens(const std::string& w) {  // no space after it
  return w == "(" || w == "[" || w == "{" || w == "``";
}
}  // namespace

std::string brown_plain_text(const std::string& tagged) {
  std::string out;
  std::istringstream lines(tagged);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream tokens(line);
    std::string sentence, previous;
    for (std::string token; tokens >> token;) {
      size_t slash = token.rfind('/');
      std::string word = slash == std::string::npos || slash == 0 ? token : token.substr(0, slash);
      if (!sentence.empty() && !closes(word) && !opens(previous)) sentence += ' ';
      sentence += word == "``" || word == "''" ? "\"" : word;
      previous = word;
    }
    if (!sentence.empty()) out += sentence + "\n";
  }
  return out;
}

std::vector<TextDocument> read_brown(const std::string& dir) {
  std::vector<TextDocument> docs;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() == 4 && name[0] == 'c' && name[1] >= 'a' && name[1] <= 'r' &&
        std::isdigit(static_cast<unsigned char>(name[2])) &&
        std::isdigit(static_cast<unsigned char>(name[3])) && e.is_regular_file())
      docs.push_back({name, brown_plain_text(read_file(e.path().string()))});
  }
  if (ec) fail(dir, "cannot list (" + ec.message() + ")");
  if (docs.empty()) fail(dir, "holds no Brown corpus files (ca01 ... cr09)");
  std::sort(docs.begin(), docs.end(),
            [](const TextDocument& a, const TextDocument& b) { return a.name < b.name; });
  return docs;
}

int64_t invalid_utf8_offset(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const int64_t n = static_cast<int64_t>(s.size());
  for (int64_t i = 0; i < n;) {
    unsigned char c = p[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > n) return i;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8.
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
    i += len;
  }
  return -1;
}

std::vector<TextDocument> read_text_files(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (const fs::directory_entry& e : fs::recursive_directory_iterator(p, ec))
        if (e.is_regular_file()) found.push_back(e.path().string());
      if (ec) fail(p, "cannot list (" + ec.message() + ")");
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(p);
    }
  }
  std::vector<TextDocument> docs;
  for (const std::string& f : files) {
    std::string text = read_file(f);
    if (text.empty()) fail(f, "is empty; expected UTF-8 text");
    if (int64_t at = invalid_utf8_offset(text); at >= 0)
      fail(f, "is not UTF-8 text (invalid byte sequence at offset " + std::to_string(at) + ")");
    docs.push_back({f, std::move(text)});
  }
  return docs;
}

TextSplit split_of(const TextDocument& d, size_t position) {
  size_t end = d.name.size(), start = end;
  while (start > 0 && std::isdigit(static_cast<unsigned char>(d.name[start - 1]))) --start;
  uint64_t number = position;
  if (start < end && end - start <= 9) number = std::stoull(d.name.substr(start));
  return number % 10 == 9 ? TextSplit::Val : number % 10 == 0 ? TextSplit::Test : TextSplit::Train;
}

namespace {
const char* const kSplitNames[] = {"train", "val", "test"};

TextSplitData& split_data(TextData& t, int s) {
  return s == 0 ? t.train : s == 1 ? t.val : t.test;
}
}  // namespace

TextData prepare_text(const std::vector<TextDocument>& docs, const std::string& source,
                      const std::string& out_path, const Tokenizer& tokenizer,
                      const std::string& text_dir) {
  TextData t;
  t.path = out_path, t.source = source, t.tokenizer = tokenizer.name();
  t.vocab_size = tokenizer.vocab_size();
  uLong crc = crc32(0L, Z_NULL, 0);
  std::string split_text[3];
  for (size_t i = 0; i < docs.size(); ++i) {
    const std::string& text = docs[i].text;
    crc = crc32(crc, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size()));
    int s = static_cast<int>(split_of(docs[i], i));
    split_text[s] += text;
    split_data(t, s).bytes += static_cast<int64_t>(text.size());
    ++split_data(t, s).documents;
  }
  // Each split's documents, in order, are one text to the tokenizer: what a reference
  // encoder given the same text gives.
  for (int s = 0; s < 3; ++s)
    for (int32_t id : tokenizer.encode(split_text[s]))
      split_data(t, s).tokens.push_back(static_cast<uint16_t>(id));
  if (!text_dir.empty()) {
    fs::create_directories(text_dir);
    for (int s = 0; s < 3; ++s)
      write_text_atomically((fs::path(text_dir) / (std::string(kSplitNames[s]) + ".txt")).string(),
                            split_text[s]);
  }
  t.source_crc32 = static_cast<uint32_t>(crc);
  for (int s = 0; s < 3; ++s)
    if (split_data(t, s).tokens.empty())
      fail(out_path, std::string("the ") + kSplitNames[s] + " split would be empty (" +
                         std::to_string(docs.size()) +
                         " documents; numbers 9 mod 10 go to val, 0 mod 10 to test)");
  write_h5_atomically(out_path, [&](H5Store& h5) {
    for (int s = 0; s < 3; ++s) {
      const TextSplitData& d = split_data(t, s);
      std::string g = std::string(kSplitNames[s]);
      h5.write_u16(g + "/tokens", d.tokens);
      h5.write_attr(g, "bytes", static_cast<double>(d.bytes));
      h5.write_attr(g, "documents", static_cast<double>(d.documents));
    }
    h5.write_attr("/", "tokenizer", t.tokenizer);
    h5.write_attr("/", "vocab_size", static_cast<double>(t.vocab_size));
    h5.write_attr("/", "source", t.source);
    h5.write_attr("/", "source_crc32", static_cast<double>(t.source_crc32));
    h5.write_attr("/", "format_version", static_cast<double>(kTextFormatVersion));
  });
  return t;
}

TextData load_text(const std::string& path) {
  TextData t;
  t.path = path;
  try {
    H5Store h5(path, H5Store::Mode::Read);
    int64_t version = h5.read_attr_int("/", "format_version", 0, 1000);
    if (version != kTextFormatVersion)
      fail(path, "token file format version " + std::to_string(version) +
                     " is not supported (expected " + std::to_string(kTextFormatVersion) + ")");
    t.tokenizer = h5.read_attr_string("/", "tokenizer");
    t.vocab_size = h5.read_attr_int("/", "vocab_size", 2, 65536);
    t.source = h5.read_attr_string("/", "source");
    t.source_crc32 = static_cast<uint32_t>(h5.read_attr_int("/", "source_crc32", 0, 0xFFFFFFFFll));
    for (int s = 0; s < 3; ++s) {
      TextSplitData& d = split_data(t, s);
      std::string g = kSplitNames[s];
      if (!h5.exists(g + "/tokens"))
        fail(path, "missing dataset '" + g + "/tokens' (not a token file made by prepare_text?)");
      Labels ids = h5.read_labels(g + "/tokens");
      if (ids.empty()) fail(path, "the " + g + " split is empty");
      d.tokens.reserve(ids.size());
      for (int32_t id : ids) {
        if (id < 0 || id >= t.vocab_size)
          fail(path, "'" + g + "/tokens' holds token " + std::to_string(id) + " outside [0, " +
                         std::to_string(t.vocab_size) + ")");
        d.tokens.push_back(static_cast<uint16_t>(id));
      }
      d.bytes = h5.read_attr_int(g, "bytes", 0, int64_t{1} << 50);
      d.documents = h5.read_attr_int(g, "documents", 0, int64_t{1} << 40);
    }
  } catch (const H5Error& e) {
    throw DataError(e.what());
  }
  return t;
}

}  // namespace dapa
