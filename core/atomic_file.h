// Replacing a file atomically and durably: the new content goes to a temporary file
// beside the target, is flushed and fsync'ed, and only then renamed over the target (and
// the directory fsync'ed). Any failure (disk full, file-size limit, I/O error) removes
// the temporary, leaves the old file as it was, and throws FileError naming the file.
// Used by every writer of checkpoints, data sets, tables and JSON outputs.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

namespace dapa {

struct FileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Refuses targets that are not regular files (a symlink, a device such as /dev/null, a
// directory): renaming over them would replace the link or the node itself.
void check_replaceable(const std::string& path);

// `write(tmp)` must create and fully write the temporary file `tmp`, closing it and
// throwing if any part of that fails. Stale temporaries of `path` left by killed
// processes (path.tmp.PID with PID no longer running) are removed first.
void replace_atomically(const std::string& path,
                        const std::function<void(const std::string& tmp)>& write);

// The same for text (JSON outputs, generated headers).
void write_text_atomically(const std::string& path, const std::string& text);

// Creates or truncates `path` and writes `size` bytes, checking every write and the
// close; throws FileError naming the file and the system's reason.
void write_file(const std::string& path, const void* data, size_t size);

// fsync of an existing file or directory; throws FileError on failure.
void sync_path(const std::string& path);

}  // namespace dapa
