#include "sample.h"

#include <cmath>

namespace sentinel::core {

namespace {

// c * log2(c) for c = 0..4096 (samples are at most 4096 bytes).
struct CLogC {
  float v[4097];
  CLogC() {
    v[0] = 0;
    for (int c = 1; c <= 4096; c++) v[c] = static_cast<float>(c * std::log2(static_cast<double>(c)));
  }
};
const CLogC& clogc() {
  static const CLogC t;
  return t;
}

inline double cLog2C(uint32_t c) {
  return c <= 4096 ? clogc().v[c] : c * std::log2(static_cast<double>(c));
}

const char* const kCommonExts[] = {
    // documents and data
    "txt", "md", "rst", "pdf", "doc", "docx", "docm", "xls", "xlsx", "xlsm", "ppt", "pptx", "odt",
    "ods", "odp", "rtf", "csv", "tsv", "json", "xml", "yaml", "yml", "toml", "ini", "cfg", "conf",
    "log", "html", "htm", "css", "svg", "tex", "epub", "db", "sqlite", "sqlite3", "sql", "mdb",
    "accdb", "eml", "msg", "pst", "ics", "vcf", "key", "pem", "crt", "cer", "pub", "asc", "gpg",
    "sig", "lock", "pid", "sock",
    // media
    "jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "webp", "ico", "heic", "raw", "psd", "mp3",
    "wav", "flac", "ogg", "m4a", "aac", "mp4", "mkv", "avi", "mov", "webm", "wmv", "ttf", "otf",
    "woff", "woff2",
    // code and build outputs
    "c", "h", "cc", "cpp", "cxx", "hpp", "hh", "o", "obj", "a", "so", "lo", "la", "d", "dep", "gch",
    "pch", "py", "pyc", "pyo", "pyi", "js", "mjs", "cjs", "ts", "tsx", "jsx", "map", "java", "class",
    "jar", "go", "rs", "rb", "php", "pl", "pm", "sh", "bash", "zsh", "lua", "swift", "kt", "scala",
    "cs", "vb", "r", "m", "mm", "s", "asm", "wasm", "node", "dll", "exe", "bin", "elf", "out", "mk",
    "cmake", "gyp", "gypi", "ninja", "make", "am", "in", "ac", "m4", "pc", "rlib", "rmeta", "whl",
    "egg", "gem", "deb", "rpm", "apk", "pkg", "idx", "pack", "rev", "keep", "sample", "patch",
    "diff", "orig", "rej", "info", "cache", "stamp", "tlog",
    // archives and compression
    "zip", "tar", "gz", "tgz", "bz2", "xz", "zst", "lz4", "lzma", "7z", "rar", "cab", "iso", "img",
    "qcow2", "vmdk", "dmg",
    // temporary and editor files
    "tmp", "temp", "part", "partial", "crdownload", "swp", "swo", "bak", "old", "new", "dpkg-new",
    "dpkg-old", "dpkg-tmp", "dpkg-dist", "ucf-dist", "rpmnew", "rpmsave", "journal", "wal", "shm",
    nullptr};

const char* const kNoteExts[] = {"txt", "html", "htm", "hta", "rtf", "url", "bmp", nullptr};

}  // namespace

namespace {
// Open-addressing set of the common extensions, keyed by Ext::hash, exact compare on a hit.
struct ExtSet {
  static constexpr size_t kSize = 1024;
  const char* slot[kSize] = {nullptr};
  uint32_t hash[kSize] = {0};
  explicit ExtSet(const char* const* list) {
    for (const char* const* p = list; *p; p++) {
      size_t n = std::strlen(*p);
      uint32_t h = nonZero(hashBytes(reinterpret_cast<const uint8_t*>(*p), n, kSeedExt));
      size_t i = h & (kSize - 1);
      while (slot[i]) i = (i + 1) & (kSize - 1);
      slot[i] = *p;
      hash[i] = h;
    }
  }
  bool has(const Ext& e) const {
    for (size_t i = e.hash & (kSize - 1); slot[i]; i = (i + 1) & (kSize - 1)) {
      if (hash[i] == e.hash && std::strlen(slot[i]) == e.len && std::memcmp(slot[i], e.s, e.len) == 0) return true;
    }
    return false;
  }
};
const ExtSet& commonExts() {
  static const ExtSet s(kCommonExts);
  return s;
}
}  // namespace

bool isCommonExt(const Ext& e) {
  if (e.len == 0) return false;
  bool digits = true;  // rotation and version suffixes (app.log.1, lib.so.6) are common
  for (int i = 0; i < e.len && digits; i++) digits = e.s[i] >= '0' && e.s[i] <= '9';
  return digits || commonExts().has(e);
}
bool isNoteExt(const Ext& e) {
  static const ExtSet notes(kNoteExts);
  return e.len > 0 && notes.has(e);
}

SampleStats sampleStats(const uint8_t* p, size_t n) {
  SampleStats s;
  if (n == 0) return s;
  uint32_t h[256] = {0};
  for (size_t i = 0; i < n; i++) h[p[i]]++;
  double sum = 0, chi = 0;
  const double e = static_cast<double>(n) / 256.0;
  for (int i = 0; i < 256; i++) {
    sum += cLog2C(h[i]);
    double d = h[i] - e;
    chi += d * d;
  }
  double ent = std::log2(static_cast<double>(n)) - sum / static_cast<double>(n);
  if (ent < 0) ent = 0;
  if (ent > 8) ent = 8;
  s.entropy = static_cast<float>(ent);
  s.chiSquare = static_cast<float>(chi / e);
  return s;
}

float entropyOf(const uint8_t* p, size_t n) { return sampleStats(p, n).entropy; }

bool looksEncoded(const uint8_t* p, size_t n, float entropy) {
  if (n < 128) return false;
  size_t b64 = 0, hex = 0, nl = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    bool digit = c >= '0' && c <= '9';
    bool lower = c >= 'a' && c <= 'z';
    bool upper = c >= 'A' && c <= 'Z';
    bool isHex = digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    bool isNl = c == '\n' || c == '\r';
    if (digit || lower || upper || c == '+' || c == '/' || c == '=' || c == '-' || c == '_' || isNl) b64++;
    if (isHex || isNl) hex++;
    nl += isNl;
  }
  if (hex * 100 >= n * 95 && entropy >= 3.6f) return true;
  if (b64 * 100 >= n * 95 && entropy >= 5.4f) return true;
  return false;
}

const char* magicClassName(uint8_t c) {
  static const char* const names[] = {"none", "pdf", "zip", "png", "jpeg", "gif", "elf", "gzip", "xz",
                                      "zstd", "bzip2", "7z", "sqlite", "ole", "text", "high_entropy",
                                      "unknown"};
  return c <= kMagicUnknown ? names[c] : "unknown";
}

MagicClass magicClass(const uint8_t* p, size_t n) {
  if (n == 0) return kMagicNone;
  auto starts = [&](const char* m, size_t k) { return n >= k && std::memcmp(p, m, k) == 0; };
  if (starts("%PDF", 4)) return kMagicPdf;
  if (starts("PK\x03\x04", 4) || starts("PK\x05\x06", 4) || starts("PK\x07\x08", 4)) return kMagicZip;
  if (starts("\x89PNG", 4)) return kMagicPng;
  if (starts("\xFF\xD8\xFF", 3)) return kMagicJpeg;
  if (starts("GIF8", 4)) return kMagicGif;
  if (starts("\x7F" "ELF", 4)) return kMagicElf;
  if (starts("\x1F\x8B", 2)) return kMagicGzip;
  if (starts("\xFD" "7zXZ\x00", 6)) return kMagicXz;
  if (starts("\x28\xB5\x2F\xFD", 4)) return kMagicZstd;
  if (starts("BZh", 3)) return kMagicBzip2;
  if (starts("7z\xBC\xAF\x27\x1C", 6)) return kMagic7z;
  if (starts("SQLite format 3", 15)) return kMagicSqlite;
  if (starts("\xD0\xCF\x11\xE0", 4)) return kMagicOle;
  size_t text = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    if ((c >= 0x20 && c < 0x7F) || c == '\n' || c == '\r' || c == '\t' || c >= 0x80) text++;
  }
  float ent = entropyOf(p, n);
  if (text * 100 >= n * 95 && ent < 6.0f) return kMagicText;
  if (n >= 64 && ent >= 6.5f) return kMagicHighEntropy;
  return kMagicUnknown;
}

}  // namespace sentinel::core
