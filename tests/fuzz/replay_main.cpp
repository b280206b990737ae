// Runs a libFuzzer target without libFuzzer, so every build (g++, sanitizers)
// exercises the fuzz targets in CTest: each corpus file is fed as-is, then
// `--mutations N` deterministic byte-level mutations of it (flip, insert,
// delete, truncate, duplicate). Real fuzzing: build with -DSTRATA_FUZZ=ON (clang).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  int mutations = 2000;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--mutations" && i + 1 < argc) {
      mutations = std::atoi(argv[++i]);
      continue;
    }
    std::filesystem::path p(a);
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(p)) {
      for (auto& e : std::filesystem::directory_iterator(p)) files.push_back(e.path());
    } else {
      files.push_back(p);
    }
    for (auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      inputs.push_back(ss.str());
    }
  }
  if (inputs.empty()) {
    std::cerr << "usage: " << argv[0] << " [--mutations N] corpus-dir-or-file...\n";
    return 2;
  }
  std::mt19937_64 rng(42);
  std::size_t runs = 0;
  for (const auto& seed : inputs) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(seed.data()), seed.size());
    ++runs;
    for (int m = 0; m < mutations; ++m) {
      std::string s = seed;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        std::size_t pos = s.empty() ? 0 : rng() % s.size();
        switch (rng() % 5) {
          case 0:
            if (!s.empty()) s[pos] = static_cast<char>(rng());
            break;
          case 1:
            s.insert(pos, 1, "{}[]\",:0\\\xff\x80"[rng() % 12]);
            break;
          case 2:
            if (!s.empty()) s.erase(pos, 1 + rng() % 8);
            break;
          case 3:
            s.resize(pos);
            break;
          case 4:
            s.insert(pos, s.substr(pos, rng() % 32));
            break;
        }
      }
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
      ++runs;
    }
  }
  std::cout << "replayed " << runs << " inputs without a crash\n";
  return 0;
}
