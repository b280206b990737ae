// strata-bench-logs-corpus: grows the loghub 2k samples (tests/data/loghub,
// https://github.com/logpai/loghub -- see the LICENSE there, which travels
// with the corpus as NOTICE) into a deterministic corpus of a given size.
//
//   strata-bench-logs-corpus --src tests/data/loghub --out DIR [--bytes N] [--seed S]
//
// Each line of a system's sample is a template: its timestamp is cut out
// and re-written from a monotonic clock, and every token holding a digit
// (numbers, hex ids, IPs, block ids, paths with numbers, ...) plus the user
// name after "user" becomes a slot. A slot draws its value from a pool per
// (system, token shape): rank r ~ Zipf(1.1) over a pool whose size grows as
// c * n^e with the draws n so far (e = 0.85 for long ids, 0.6 for short
// numbers), so common values stay common and rare ids appear as the corpus
// grows. A token with a digit that is the same in >= 2% of the sample's lines
// (HTTP/1.1, a log file name) stays literal. Output in DIR:
//   <System>.log   raw text, one entry a line (LF)
//   <System>.ts    the entries' timestamps, int64 little-endian ns, one per line
//   manifest.tsv   file, labels, lines, bytes, min_ts_ns, max_ts_ns
//   queries.env    ids picked for the benchmark's queries (a rare id, ...)
//   NOTICE         the loghub license notice
// Same --src, --bytes and --seed: byte-identical output.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <re2/re2.h>

namespace {

struct System {
  const char* name;
  const char* ts_regex;  // the timestamp inside a line (first match)
  int ts_format;
};

enum TsFormat { kApache, kHdfs, kHealthApp, kSyslog, kOpenStack, kSpark, kZookeeper };

const System kSystems[] = {
    {"Apache", R"(^\[\w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} \d{4}\])", kApache},
    {"HDFS", R"(^\d{6} \d{6})", kHdfs},
    {"HealthApp", R"(^\d{8}-\d{1,2}:\d{1,2}:\d{1,2}:\d{1,3})", kHealthApp},
    {"Linux", R"(^\w{3} +\d{1,2} \d{2}:\d{2}:\d{2})", kSyslog},
    {"OpenSSH", R"(^\w{3} +\d{1,2} \d{2}:\d{2}:\d{2})", kSyslog},
    {"OpenStack", R"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3})", kOpenStack},
    {"Spark", R"(^\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2})", kSpark},
    {"Zookeeper", R"(^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3})", kZookeeper},
};

// Corpus time: starts 2026-01-01T00:00:00Z and spans kSpanDays whatever the size.
constexpr std::int64_t kBaseNs = 1767225600LL * 1000000000LL;
constexpr double kSpanDays = 7.0;

struct Piece {
  enum Kind { kLiteral, kTimestamp, kSlot } kind;
  std::string text;  // literal, or the slot's original token
  int pool = -1;     // kSlot
};
using Template = std::vector<Piece>;

struct Pool {
  std::string system, shape, sample;  // shape: the original with digits -> 9, hex -> x
  bool long_id = false;
  bool user = false;
  std::vector<std::string> values;
  std::vector<std::uint32_t> counts;
  std::uint64_t draws = 0;
};

bool is_delim(char c) {
  return c == ' ' || c == '\t' || c == '[' || c == ']' || c == '(' || c == ')' || c == '{' ||
         c == '}' || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' || c == '\'' ||
         c == '=' || c == '|';
}
bool has_digit(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}
bool is_hex_part(const std::string& p) {
  if (p.size() < 6) return false;
  bool digit = false, letter = false;
  for (char c : p) {
    if (c >= '0' && c <= '9') digit = true;
    else if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) letter = true;
    else return false;
  }
  return digit && letter;
}
bool is_sub_delim(char c) { return c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '@' || c == '$'; }

// Splits a token into parts separated by sub-delimiters; calls f(part, is_delim_run).
template <class F>
void for_parts(const std::string& tok, F f) {
  std::size_t i = 0;
  while (i < tok.size()) {
    std::size_t j = i;
    bool d = is_sub_delim(tok[i]);
    while (j < tok.size() && is_sub_delim(tok[j]) == d) ++j;
    f(tok.substr(i, j - i), d);
    i = j;
  }
}

std::string shape_of(const std::string& tok) {
  std::string out;
  for_parts(tok, [&](const std::string& p, bool d) {
    if (d) { out += p; return; }
    bool hex = is_hex_part(p);
    for (char c : p) {
      if (c >= '0' && c <= '9') out += '9';
      else if (hex) out += 'x';
      else out += c;
    }
  });
  return out;
}

bool is_ipv4_prefix(const std::string& tok) {
  static const re2::RE2 re(R"(/?\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(\D.*)?)");
  return re2::RE2::FullMatch(tok, re);
}

const char* const kSyllables[] = {"ka", "ro", "mi", "tan", "el", "su", "dev", "ad", "min", "or",
                                  "ac", "le", "git", "web", "ops", "li", "na", "test", "ba", "zo",
                                  "pi", "ne", "sam", "jo", "ch", "ri", "to", "mar", "us", "er"};

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  std::uint64_t next() { return rng_(); }
  double uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

  std::string fresh_value(const Pool& pool) {
    if (pool.user) {
      std::string s;
      int n = 2 + static_cast<int>(next() % 2);
      for (int i = 0; i < n; ++i) s += kSyllables[next() % std::size(kSyllables)];
      if (next() % 4 == 0) s += std::to_string(next() % 100);
      return s;
    }
    const std::string& tok = pool.sample;
    bool ip = is_ipv4_prefix(tok);
    int octet = 0;
    std::string out;
    for_parts(tok, [&](const std::string& p, bool d) {
      if (d) { out += p; return; }
      bool hex = is_hex_part(p);
      bool digits_only = std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (ip && digits_only && octet < 4) {
        ++octet;
        out += std::to_string(1 + next() % 254);
        return;
      }
      for (std::size_t i = 0; i < p.size(); ++i) {
        char c = p[i];
        bool run_start = i == 0 || !(p[i - 1] >= '0' && p[i - 1] <= '9');
        if (hex && (std::isxdigit(static_cast<unsigned char>(c)))) {
          const char* hx = std::isupper(static_cast<unsigned char>(c)) || (c >= '0' && c <= '9' && has_upper(p))
                               ? "0123456789ABCDEF"
                               : "0123456789abcdef";
          out += hx[next() % 16];
        } else if (c >= '0' && c <= '9') {
          bool keep_nonzero = run_start && c != '0' && i + 1 < p.size() && p[i + 1] >= '0' && p[i + 1] <= '9';
          out += static_cast<char>(keep_nonzero ? '1' + next() % 9 : '0' + next() % 10);
        } else {
          out += c;
        }
      }
    });
    return out;
  }

  const std::string& draw(Pool& pool) {
    ++pool.draws;
    double n = static_cast<double>(pool.draws);
    // Pool size grows with use: long ids much faster than small numbers.
    double k = pool.long_id ? 4.0 * std::pow(n, 0.85) : (pool.user ? 3.0 * std::pow(n, 0.55) : 2.0 * std::pow(n, 0.6));
    std::uint64_t kmax = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(k));
    // Zipf(s) rank over [1, kmax] by the continuous inverse CDF.
    constexpr double s = 1.1;
    double u = uniform();
    double a = std::pow(static_cast<double>(kmax) + 1.0, 1.0 - s);
    double r = std::pow(1.0 + u * (a - 1.0), 1.0 / (1.0 - s));
    std::uint64_t rank = std::min<std::uint64_t>(kmax, std::max<std::uint64_t>(1, static_cast<std::uint64_t>(r)));
    while (pool.values.size() < rank) {
      pool.values.push_back(fresh_value(pool));
      pool.counts.push_back(0);
    }
    ++pool.counts[rank - 1];
    return pool.values[rank - 1];
  }

 private:
  static bool has_upper(const std::string& p) {
    return std::any_of(p.begin(), p.end(), [](char c) { return c >= 'A' && c <= 'F'; });
  }
  std::mt19937_64 rng_;
};

const char* const kMon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
const char* const kDay[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

void format_ts(int fmt, std::int64_t ns, std::string& out) {
  std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  int ms = static_cast<int>((ns / 1000000) % 1000);
  std::tm t{};
  gmtime_r(&secs, &t);
  char buf[64];
  switch (fmt) {
    case kApache:
      std::snprintf(buf, sizeof buf, "[%s %s %02d %02d:%02d:%02d %04d]", kDay[t.tm_wday], kMon[t.tm_mon], t.tm_mday,
                    t.tm_hour, t.tm_min, t.tm_sec, t.tm_year + 1900);
      break;
    case kHdfs:
      std::snprintf(buf, sizeof buf, "%02d%02d%02d %02d%02d%02d", t.tm_year % 100, t.tm_mon + 1, t.tm_mday, t.tm_hour,
                    t.tm_min, t.tm_sec);
      break;
    case kHealthApp:
      std::snprintf(buf, sizeof buf, "%04d%02d%02d-%d:%d:%d:%d", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
                    t.tm_min, t.tm_sec, ms);
      break;
    case kSyslog:
      std::snprintf(buf, sizeof buf, "%s %2d %02d:%02d:%02d", kMon[t.tm_mon], t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
      break;
    case kOpenStack:
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                    t.tm_hour, t.tm_min, t.tm_sec, ms);
      break;
    case kSpark:
      std::snprintf(buf, sizeof buf, "%02d/%02d/%02d %02d:%02d:%02d", t.tm_year % 100, t.tm_mon + 1, t.tm_mday,
                    t.tm_hour, t.tm_min, t.tm_sec);
      break;
    case kZookeeper:
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d,%03d", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                    t.tm_hour, t.tm_min, t.tm_sec, ms);
      break;
  }
  out += buf;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string src = "tests/data/loghub", out_dir;
  std::uint64_t bytes = 1ull << 30, seed = 42;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) { std::cerr << a << " needs a value\n"; std::exit(2); }
      return argv[++i];
    };
    if (a == "--src") src = val();
    else if (a == "--out") out_dir = val();
    else if (a == "--bytes") bytes = std::stoull(val());
    else if (a == "--seed") seed = std::stoull(val());
    else { std::cerr << "usage: " << argv[0] << " --src DIR --out DIR [--bytes N] [--seed S]\n"; return 2; }
  }
  if (out_dir.empty()) { std::cerr << "--out is required\n"; return 2; }

  Generator gen(seed);
  std::vector<Pool> pools;
  std::map<std::pair<std::string, std::string>, int> pool_ids;
  std::ofstream manifest(out_dir + "/manifest.tsv");
  if (!manifest) { std::cerr << "cannot write " << out_dir << "/manifest.tsv\n"; return 1; }
  manifest << "file\tlabels\tlines\tbytes\tmin_ts_ns\tmax_ts_ns\n";
  const std::uint64_t per_system = bytes / std::size(kSystems);

  for (const System& sys : kSystems) {
    std::ifstream in(src + "/" + sys.name + "_2k.log");
    if (!in) { std::cerr << "cannot read " << src << "/" << sys.name << "_2k.log\n"; return 1; }
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) {
      if (!l.empty() && l.back() == '\r') l.pop_back();
      if (!l.empty()) lines.push_back(l);
    }
    // Digit-bearing tokens frequent enough to be constants.
    std::unordered_map<std::string, int> freq;
    auto tokens_of = [](const std::string& s) {
      std::vector<std::pair<std::size_t, std::size_t>> toks;  // (pos, len)
      std::size_t i = 0;
      while (i < s.size()) {
        if (is_delim(s[i])) { ++i; continue; }
        std::size_t j = i;
        while (j < s.size() && !is_delim(s[j])) ++j;
        toks.emplace_back(i, j - i);
        i = j;
      }
      return toks;
    };
    const re2::RE2 ts_re(sys.ts_regex);
    if (!ts_re.ok()) { std::cerr << sys.name << ": bad timestamp regex: " << ts_re.error() << "\n"; return 1; }
    std::vector<std::pair<std::string, std::string>> split;  // (before ts, after ts) -- before kept literal
    std::vector<std::string> before;
    for (const std::string& l : lines) {
      re2::StringPiece m;
      if (!ts_re.Match(l, 0, l.size(), re2::RE2::UNANCHORED, &m, 1)) { std::cerr << sys.name << ": no timestamp in: " << l << "\n"; return 1; }
      const std::size_t pos = static_cast<std::size_t>(m.data() - l.data());
      split.emplace_back(l.substr(0, pos), l.substr(pos + m.size()));
      std::unordered_map<std::string, bool> seen;
      for (auto [p, n] : tokens_of(split.back().second)) {
        std::string t = split.back().second.substr(p, n);
        if (has_digit(t) && !seen[t]) { seen[t] = true; ++freq[t]; }
      }
    }
    std::vector<Template> templates;
    double avg_len = 0;
    for (const auto& [pre, rest] : split) {
      Template t;
      t.push_back({Piece::kLiteral, pre});
      t.push_back({Piece::kTimestamp, ""});
      std::string lit;
      std::size_t at = 0;
      std::string prev_word;
      for (auto [p, n] : tokens_of(rest)) {
        std::string tok = rest.substr(p, n);
        bool user = lower(prev_word) == "user" && tok != "unknown" && tok != "from" && !has_digit(tok);
        bool var = user || (has_digit(tok) && freq[tok] * 50 < static_cast<int>(lines.size()));
        prev_word = tok;
        if (!var) continue;
        lit += rest.substr(at, p - at);
        t.push_back({Piece::kLiteral, lit});
        lit.clear();
        std::string shape = user ? "<user>" : shape_of(tok);
        bool long_id = !user && std::count_if(tok.begin(), tok.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }) >= 8;
        auto key = std::make_pair(std::string(sys.name), shape);
        auto it = pool_ids.find(key);
        if (it == pool_ids.end()) {
          Pool pool;
          pool.system = sys.name;
          pool.shape = shape;
          pool.sample = tok;
          pool.long_id = long_id;
          pool.user = user;
          pools.push_back(std::move(pool));
          it = pool_ids.emplace(key, static_cast<int>(pools.size() - 1)).first;
        }
        t.push_back({Piece::kSlot, tok, it->second});
        at = p + n;
      }
      lit += rest.substr(at);
      t.push_back({Piece::kLiteral, lit});
      avg_len += static_cast<double>(pre.size() + rest.size() + 20);
      templates.push_back(std::move(t));
    }
    avg_len /= static_cast<double>(templates.size());
    const double expected_lines = static_cast<double>(per_system) / avg_len;
    const double mean_gap_ns = kSpanDays * 86400e9 / std::max(1.0, expected_lines);

    const std::string base = out_dir + "/" + sys.name;
    std::FILE* log = std::fopen((base + ".log").c_str(), "wb");
    std::FILE* tsf = std::fopen((base + ".ts").c_str(), "wb");
    if (!log || !tsf) { std::cerr << "cannot write " << base << ".{log,ts}\n"; return 1; }
    std::string line, buf;
    std::vector<std::int64_t> tsbuf;
    std::uint64_t written = 0, count = 0;
    // Each system starts at a slightly different instant.
    std::int64_t ts = kBaseNs + static_cast<std::int64_t>(gen.next() % 1000000000ull);
    const std::int64_t first_ts = ts;
    while (written < per_system) {
      const Template& t = templates[gen.next() % templates.size()];
      // Exponential gaps: bursts and pauses, strictly increasing by >= 1 ms.
      double gap = -std::log(1.0 - gen.uniform()) * mean_gap_ns;
      ts += std::max<std::int64_t>(1000000, static_cast<std::int64_t>(gap));
      line.clear();
      for (const Piece& p : t) {
        if (p.kind == Piece::kLiteral) line += p.text;
        else if (p.kind == Piece::kTimestamp) format_ts(sys.ts_format, ts, line);
        else line += gen.draw(pools[p.pool]);
      }
      line += '\n';
      buf += line;
      tsbuf.push_back(ts);
      written += line.size();
      ++count;
      if (buf.size() > (1u << 20)) {
        std::fwrite(buf.data(), 1, buf.size(), log);
        std::fwrite(tsbuf.data(), sizeof(std::int64_t), tsbuf.size(), tsf);
        buf.clear();
        tsbuf.clear();
      }
    }
    std::fwrite(buf.data(), 1, buf.size(), log);
    std::fwrite(tsbuf.data(), sizeof(std::int64_t), tsbuf.size(), tsf);
    if (std::fclose(log) != 0 || std::fclose(tsf) != 0) { std::cerr << "write failed: " << base << "\n"; return 1; }
    manifest << sys.name << ".log\tjob=" << sys.name << "\t" << count << "\t" << written << "\t" << first_ts << "\t" << ts
             << "\n";
    std::cerr << sys.name << ": " << count << " lines, " << written << " bytes, " << templates.size() << " templates\n";
  }

  // A rare id for the queries: the HDFS block id drawn a handful of times
  // (3..8) with the lowest rank above 50 -- deterministic for a seed.
  std::ofstream q(out_dir + "/queries.env");
  bool picked = false;
  for (const Pool& p : pools) {
    if (picked || p.system != "HDFS" || p.shape.rfind("blk_-", 0) != 0) continue;
    for (std::size_t r = 50; r < p.values.size() && !picked; ++r) {
      if (p.counts[r] >= 3 && p.counts[r] <= 8) {
        q << "rare_id=" << p.values[r] << "\nrare_id_draws=" << p.counts[r] << "\n";
        picked = true;
      }
    }
  }
  std::size_t vocab = 0;
  for (const Pool& p : pools) vocab += p.values.size();
  q << "slot_pools=" << pools.size() << "\nslot_values=" << vocab << "\n";

  std::ofstream notice(out_dir + "/NOTICE");
  notice << "Generated by bench/logs_vs_peers (strata-bench-logs-corpus) from the loghub 2k samples,\n"
            "https://github.com/logpai/loghub. Their license notice follows.\n\n";
  std::ifstream lic(src + "/LICENSE");
  notice << lic.rdbuf();
  return 0;
}
