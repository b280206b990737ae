#include "agent/checkpoint_store.h"

#include <stdexcept>
#include <system_error>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/file.h"

namespace strata::agent {

namespace {

constexpr int kVersion = 1;

// A JSON string literal. Paths are bytes, not necessarily UTF-8: bytes >= 0x80
// that do not form valid UTF-8 would make the document invalid, so every
// non-ASCII byte is written as \u00XX and mapped back byte for byte.
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x80) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// Undoes json_string's \u00XX for bytes: simdjson decoded them as UTF-8 code
// points U+0080..U+00FF (two bytes each); turn those back into single bytes.
std::string bytes_of(std::string_view utf8) {
  std::string out;
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if ((c == 0xc2 || c == 0xc3) && i + 1 < utf8.size()) {
      out +=
          static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(utf8[i + 1]) & 0x3f));
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

CheckpointStore::CheckpointStore(std::filesystem::path dir) : path_(dir / "checkpoints.json") {}

std::string CheckpointStore::encode(const std::vector<FilePosition>& positions) {
  std::string out = fmt::format("{{\"version\":{},\"files\":[", kVersion);
  for (std::size_t i = 0; i < positions.size(); ++i) {
    const auto& p = positions[i];
    out += fmt::format(
        "{}\n{{\"path\":{},\"device\":{},\"inode\":{},\"offset\":{},\"head_length\":{},"
        "\"head_hash\":\"{:016x}\"}}",
        i ? "," : "", json_string(p.path), p.device, p.inode, p.offset, p.head_length, p.head_hash);
  }
  return out + "\n]}\n";
}

std::vector<FilePosition> CheckpointStore::decode(const std::string& json) {
  simdjson::dom::parser parser;
  std::vector<FilePosition> out;
  try {
    simdjson::dom::element doc = parser.parse(json);
    const std::int64_t version = doc["version"].get_int64();
    if (version != kVersion)
      throw std::runtime_error(fmt::format(
          "version {} (this agent reads version {}; it was written by another agent version)",
          version, kVersion));
    for (simdjson::dom::element f : doc["files"].get_array()) {
      FilePosition p;
      p.path = bytes_of(std::string_view(f["path"].get_string()));
      p.device = f["device"].get_uint64();
      p.inode = f["inode"].get_uint64();
      p.offset = f["offset"].get_uint64();
      p.head_length = f["head_length"].get_uint64();
      const std::string_view h = f["head_hash"].get_string();
      std::size_t used = 0;
      p.head_hash = std::stoull(std::string(h), &used, 16);
      if (used != h.size()) throw std::runtime_error("head_hash is not hexadecimal");
      out.push_back(std::move(p));
    }
  } catch (const simdjson::simdjson_error& e) {
    throw std::runtime_error(std::string("invalid JSON: ") + e.what());
  } catch (const std::logic_error& e) {  // stoull
    throw std::runtime_error(std::string("head_hash is not hexadecimal: ") + e.what());
  }
  return out;
}

std::optional<std::vector<FilePosition>> CheckpointStore::load() const {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return std::nullopt;
  try {
    return decode(read_file(path_));
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format(
        "tail checkpoint {}: {}; move it away to start over (files are then read from their end)",
        path_.string(), e.what()));
  }
}

void CheckpointStore::save(const std::vector<FilePosition>& positions) {
  std::string text = encode(positions);
  if (text == last_saved_) return;
  write_file_durably(path_, text);
  last_saved_ = std::move(text);
}

}  // namespace strata::agent
