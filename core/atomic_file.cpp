// Atomic, durable file replacement; see atomic_file.h.
#include "core/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace dapa {

namespace {
[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw FileError(path + ": " + what);
}

std::string parent_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Tests: DAPA_TEST_KILL_AT=POINT:FILE[:N] kills the process (SIGKILL) the N-th time
// (default: the first) a write of the file named FILE (a base name) reaches POINT:
// "mid-write" (half of the temporary file written) or "before-rename". Deterministic
// crash points for the kill -9 tests, instead of timed kills.
void test_kill_point(const char* point, const std::string& path) {
  static const char* spec = std::getenv("DAPA_TEST_KILL_AT");
  if (!spec) return;
  std::string s = spec, want = std::string(point) + ":" + base_of(path);
  if (s.compare(0, want.size(), want) != 0) return;
  long nth = 1;
  if (s.size() > want.size()) {
    if (s[want.size()] != ':') return;
    nth = std::strtol(s.c_str() + want.size() + 1, nullptr, 10);
  }
  static long reached = 0;
  if (++reached == nth) ::raise(SIGKILL);
}

// Removes "<base>.tmp.<pid>" files in the target's directory whose writer is gone.
void remove_stale_temporaries(const std::string& path) {
  std::string dir = parent_of(path), prefix = base_of(path) + ".tmp.";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const char* digits = name.c_str() + prefix.size();
    char* end = nullptr;
    long pid = std::strtol(digits, &end, 10);
    if (end == digits || *end != '\0' || pid <= 0) continue;
    if (pid == ::getpid() || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH))
      std::remove((dir + "/" + name).c_str());
  }
  ::closedir(d);
}
}  // namespace

void check_replaceable(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return;  // absent: it will be created
  if (!S_ISREG(st.st_mode))
    fail(path,
         "exists and is not a regular file (a link, device or directory); refusing to "
         "replace it");
}

void sync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open to sync (") + std::strerror(errno) + ")");
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some file systems cannot sync a directory (EINVAL); the data file's fsync matters.
  if (rc != 0 && err != EINVAL)
    fail(path, std::string("cannot sync to disk (") + std::strerror(err) + ")");
}

void replace_atomically(const std::string& path,
                        const std::function<void(const std::string& tmp)>& write) {
  check_replaceable(path);
  remove_stale_temporaries(path);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    write(tmp);
    sync_path(tmp);
    // The moment a kill -9 could do the most harm: new file complete, old one not yet
    // replaced.
    test_kill_point("before-rename", path);
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      fail(path, std::string("cannot replace with the new file (") + std::strerror(errno) + ")");
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  sync_path(parent_of(path));
}

void write_file(const std::string& path, const void* data, size_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, std::string("cannot create (") + std::strerror(errno) + ")");
  const char* p = static_cast<const char*>(data);
  // A temporary "NAME.tmp.PID" counts as NAME for the test kill point.
  std::string target = path.substr(0, path.rfind(".tmp."));
  int err = 0;
  bool halfway = false;
  for (size_t done = 0; done < size && err == 0;) {
    if (!halfway && done >= size / 2 && size >= 2)
      halfway = true, test_kill_point("mid-write", target);
    ssize_t n = ::write(fd, p + done, done < size / 2 ? size / 2 - done : size - done);
    if (n > 0)
      done += static_cast<size_t>(n);
    else if (n < 0 && errno != EINTR)
      err = errno;
    else if (n == 0)
      err = EIO;
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) fail(path, std::string("cannot write (") + std::strerror(err) + ")");
}

void write_text_atomically(const std::string& path, const std::string& text) {
  replace_atomically(path, [&](const std::string& tmp) {
    try {
      write_file(tmp, text.data(), text.size());
    } catch (const FileError& e) {  // named after the file the caller asked for
      fail(path, std::string(e.what()).substr(tmp.size() + 2));
    }
  });
}

}  // namespace dapa
