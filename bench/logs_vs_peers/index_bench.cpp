// strata-bench-logs-index: indexes a corpus from strata-bench-logs-corpus into
// the log store (logindex::LogStore, the library strata-logindex runs) and
// into SQLite FTS5, then runs the same searches on both and on ripgrep over
// the raw files. Driven by run.sh; see README.md.
//
//   strata-bench-logs-index strata-ingest --corpus DIR --data DIR [--batch N]
//   strata-bench-logs-index fts5-ingest   --corpus DIR --db FILE [--batch N]
//   strata-bench-logs-index query --corpus DIR --data DIR --db FILE [--reps N] [--rg PATH]
//
// Ingest: the streams' lines are appended in batches of --batch (10,000)
// lines, round-robin over the streams, and made durable once per batch --
// LogStore::sync() (WAL fdatasync) like the Kafka ingester, a COMMIT in
// WAL mode with synchronous=FULL for FTS5. Figures are key=value lines.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels.h"
#include "common/wire_format.h"
#include "logindex/log_store.h"
#include "logindex/search_evaluator.h"
#include "logindex/search_syntax.h"

namespace fs = std::filesystem;
using namespace strata;

namespace {

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
std::uint64_t bytes_of(const fs::path& p) {
  std::uint64_t n = 0;
  if (fs::is_regular_file(p)) return fs::file_size(p);
  for (const auto& e : fs::recursive_directory_iterator(p))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

struct Mapped {
  const char* data = nullptr;
  std::size_t size = 0;
  explicit Mapped(const fs::path& p) {
    int fd = ::open(p.c_str(), O_RDONLY);
    if (fd < 0) throw std::runtime_error("cannot open " + p.string());
    struct stat st{};
    fstat(fd, &st);
    size = static_cast<std::size_t>(st.st_size);
    if (size > 0) {
      void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (m == MAP_FAILED) throw std::runtime_error("cannot mmap " + p.string());
      data = static_cast<const char*>(m);
    }
    ::close(fd);
  }
  ~Mapped() {
    if (data) munmap(const_cast<char*>(data), size);
  }
  Mapped(const Mapped&) = delete;
  Mapped& operator=(const Mapped&) = delete;
};

struct Stream {
  std::string file, job;
  std::uint64_t lines = 0, bytes = 0;
  std::int64_t min_ts = 0, max_ts = 0;
  std::unique_ptr<Mapped> log, ts;
  std::size_t pos = 0, line_no = 0;  // reading cursor

  // Next line (without '\n') and its timestamp; false at the end.
  bool next(std::string_view& line, std::int64_t& t) {
    if (pos >= log->size) return false;
    const char* b = log->data + pos;
    const char* e = static_cast<const char*>(std::memchr(b, '\n', log->size - pos));
    std::size_t n = e ? static_cast<std::size_t>(e - b) : log->size - pos;
    line = std::string_view(b, n);
    std::memcpy(&t, ts->data + line_no * sizeof(std::int64_t), sizeof t);
    pos += n + 1;
    ++line_no;
    return true;
  }
};

struct Corpus {
  fs::path dir;
  std::vector<Stream> streams;
  std::map<std::string, std::string> env;  // queries.env
  std::uint64_t bytes = 0, lines = 0;
  std::int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
};

Corpus load_corpus(const fs::path& dir, bool map_files) {
  Corpus c;
  c.dir = dir;
  std::ifstream m(dir / "manifest.tsv");
  if (!m) throw std::runtime_error("no manifest.tsv in " + dir.string());
  std::string line;
  std::getline(m, line);  // header
  while (std::getline(m, line)) {
    std::istringstream in(line);
    Stream s;
    std::string labels;
    in >> s.file >> labels >> s.lines >> s.bytes >> s.min_ts >> s.max_ts;
    s.job = labels.substr(labels.find('=') + 1);
    if (map_files) {
      s.log = std::make_unique<Mapped>(dir / s.file);
      s.ts = std::make_unique<Mapped>(dir / (s.file.substr(0, s.file.size() - 4) + ".ts"));
      if (s.ts->size != s.lines * sizeof(std::int64_t)) throw std::runtime_error("bad .ts size for " + s.file);
    }
    c.bytes += s.bytes;
    c.lines += s.lines;
    c.min_ts = std::min(c.min_ts, s.min_ts);
    c.max_ts = std::max(c.max_ts, s.max_ts);
    c.streams.push_back(std::move(s));
  }
  std::ifstream q(dir / "queries.env");
  while (std::getline(q, line))
    if (auto eq = line.find('='); eq != std::string::npos) c.env[line.substr(0, eq)] = line.substr(eq + 1);
  return c;
}

// Calls batch(stream, lines, timestamps) with up to `batch` lines of one
// stream at a time, round-robin over the streams until all are read.
void for_batches(Corpus& c, std::size_t batch,
                 const std::function<void(const Stream&, const std::vector<std::string_view>&,
                                          const std::vector<std::int64_t>&)>& f) {
  std::vector<std::string_view> lines;
  std::vector<std::int64_t> ts;
  bool more = true;
  while (more) {
    more = false;
    for (Stream& s : c.streams) {
      lines.clear();
      ts.clear();
      std::string_view l;
      std::int64_t t;
      while (lines.size() < batch && s.next(l, t)) {
        lines.push_back(l);
        ts.push_back(t);
      }
      if (lines.empty()) continue;
      more = true;
      f(s, lines, ts);
    }
  }
}

std::map<std::string, std::string> parse_args(int argc, char** argv, int from) {
  std::map<std::string, std::string> a;
  for (int i = from; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0 || i + 1 >= argc) throw std::invalid_argument("bad argument " + k);
    a[k.substr(2)] = argv[++i];
  }
  return a;
}
std::string need(const std::map<std::string, std::string>& a, const std::string& k) {
  auto it = a.find(k);
  if (it == a.end()) throw std::invalid_argument("--" + k + " is required");
  return it->second;
}

logindex::LogStoreOptions store_options(const fs::path& dir) {
  logindex::LogStoreOptions o;
  o.dir = dir;
  o.fsync = true;                                // logindex.wal.fsync=batch
  o.maintenance_interval = std::chrono::milliseconds(0);  // maintain() called after each batch instead
  o.retention_age = std::chrono::milliseconds(0);
  return o;
}

// ---------------------------------------------------------------------------
int strata_ingest(const std::map<std::string, std::string>& a) {
  Corpus c = load_corpus(need(a, "corpus"), true);
  const fs::path data = need(a, "data");
  const std::size_t batch = a.count("batch") ? std::stoul(a.at("batch")) : 10000;
  fs::create_directories(data);
  const double c0 = cpu_seconds(), t0 = now_s();
  std::uint64_t added = 0, dups = 0, syncs = 0;
  double flush_cpu = 0;
  logindex::LogStoreStats st;
  {
    logindex::LogStore store(store_options(data));
    std::map<std::string, Labels> labels;
    for (const Stream& s : c.streams) labels.emplace(s.job, Labels{{"job", s.job}});
    std::vector<wire::LogEntry> entries;
    for_batches(c, batch, [&](const Stream& s, const std::vector<std::string_view>& lines,
                              const std::vector<std::int64_t>& ts) {
      entries.resize(lines.size());
      for (std::size_t i = 0; i < lines.size(); ++i) {
        entries[i].timestamp_ns = ts[i];
        entries[i].line.assign(lines[i]);
      }
      auto r = store.append(labels.at(s.job), entries);
      added += r.added;
      dups += r.duplicates;
      store.sync();
      ++syncs;
      const double m0 = cpu_seconds();
      store.maintain();  // flush when the head is due, merge small segments
      flush_cpu += cpu_seconds() - m0;
    });
    const double m0 = cpu_seconds();
    store.flush_head();  // everything into segments, WAL emptied
    flush_cpu += cpu_seconds() - m0;
    st = store.stats();
  }
  const double cpu = cpu_seconds() - c0, wall = now_s() - t0;
  const std::uint64_t disk = bytes_of(data), seg = bytes_of(data / "segments"),
                      wal = fs::exists(data / "wal") ? bytes_of(data / "wal") : 0;
  std::printf("strata_raw_bytes=%llu\nstrata_lines=%llu\nstrata_added=%llu\nstrata_duplicates=%llu\n",
              (unsigned long long)c.bytes, (unsigned long long)c.lines, (unsigned long long)added,
              (unsigned long long)dups);
  std::printf("strata_cpu_s=%.2f\nstrata_wall_s=%.2f\nstrata_maintain_cpu_s=%.2f\nstrata_syncs=%llu\n", cpu, wall,
              flush_cpu, (unsigned long long)syncs);
  std::printf("strata_mb_per_cpu_s=%.1f\nstrata_disk_bytes=%llu\nstrata_segment_bytes=%llu\nstrata_wal_bytes=%llu\n",
              c.bytes / 1e6 / cpu, (unsigned long long)disk, (unsigned long long)seg, (unsigned long long)wal);
  std::printf("strata_disk_ratio=%.3f\nstrata_segments=%llu\nstrata_flushes=%llu\nstrata_merges=%llu\n",
              static_cast<double>(disk) / static_cast<double>(c.bytes), (unsigned long long)st.segments,
              (unsigned long long)st.flushes, (unsigned long long)st.merges);
  return added == c.lines ? 0 : 1;
}

// ---------------------------------------------------------------------------
void sq_check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    throw std::runtime_error(std::string(what) + ": " + sqlite3_errmsg(db));
}
void sq_exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "?";
    sqlite3_free(err);
    throw std::runtime_error(std::string(sql) + ": " + m);
  }
}

int fts5_ingest(const std::map<std::string, std::string>& a) {
  Corpus c = load_corpus(need(a, "corpus"), true);
  const fs::path dbp = need(a, "db");
  const std::size_t batch = a.count("batch") ? std::stoul(a.at("batch")) : 10000;
  fs::remove(dbp);
  const double c0 = cpu_seconds(), t0 = now_s();
  sqlite3* db = nullptr;
  sq_check(sqlite3_open(dbp.c_str(), &db), db, "open");
  sq_exec(db, "PRAGMA journal_mode=WAL");
  sq_exec(db, "PRAGMA synchronous=FULL");
  // Tokens like ours: runs of letters, digits and '_' (unicode61 folds case).
  sq_exec(db, "CREATE VIRTUAL TABLE logs USING fts5(job, ts UNINDEXED, line, tokenize=\"unicode61 tokenchars '_'\")");
  sqlite3_stmt* ins = nullptr;
  sq_check(sqlite3_prepare_v2(db, "INSERT INTO logs(job, ts, line) VALUES (?, ?, ?)", -1, &ins, nullptr), db,
           "prepare");
  std::uint64_t rows = 0;
  for_batches(c, batch, [&](const Stream& s, const std::vector<std::string_view>& lines,
                            const std::vector<std::int64_t>& ts) {
    sq_exec(db, "BEGIN");
    for (std::size_t i = 0; i < lines.size(); ++i) {
      sqlite3_bind_text(ins, 1, s.job.data(), static_cast<int>(s.job.size()), SQLITE_STATIC);
      sqlite3_bind_int64(ins, 2, ts[i]);
      sqlite3_bind_text(ins, 3, lines[i].data(), static_cast<int>(lines[i].size()), SQLITE_STATIC);
      sq_check(sqlite3_step(ins), db, "insert");
      sqlite3_reset(ins);
      ++rows;
    }
    sq_exec(db, "COMMIT");
  });
  sqlite3_finalize(ins);
  const double cpu_ins = cpu_seconds() - c0, wall_ins = now_s() - t0;
  const std::uint64_t disk_before_opt = bytes_of(dbp) + (fs::exists(dbp.string() + "-wal") ? bytes_of(dbp.string() + "-wal") : 0);
  sq_exec(db, "INSERT INTO logs(logs) VALUES('optimize')");
  sq_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
  sqlite3_close(db);
  const double cpu = cpu_seconds() - c0, wall = now_s() - t0;
  std::uint64_t disk = bytes_of(dbp);
  for (const char* suf : {"-wal", "-shm"})
    if (fs::exists(dbp.string() + suf)) disk += bytes_of(dbp.string() + suf);
  std::printf("fts5_rows=%llu\nfts5_cpu_s=%.2f\nfts5_wall_s=%.2f\nfts5_insert_cpu_s=%.2f\nfts5_insert_wall_s=%.2f\n",
              (unsigned long long)rows, cpu, wall, cpu_ins, wall_ins);
  std::printf("fts5_mb_per_cpu_s=%.1f\nfts5_disk_bytes=%llu\nfts5_disk_ratio=%.3f\nfts5_disk_bytes_before_optimize=%llu\n",
              c.bytes / 1e6 / cpu, (unsigned long long)disk, static_cast<double>(disk) / static_cast<double>(c.bytes),
              (unsigned long long)disk_before_opt);
  return rows == c.lines ? 0 : 1;
}

// ---------------------------------------------------------------------------
// The queries. Each has a Strata search, the FTS5 equivalent and a ripgrep
// command line (run by /bin/sh; FILES is replaced by the corpus' files).
struct Query {
  std::string name;
  std::string strata;                 // parse_search text
  std::vector<Label> stream_equals;   // Strata: extra label equalities
  bool time_range = false;            // [range_start, range_end]
  bool per_job = false;               // count per job label
  std::string fts5_match;             // MATCH expression
  std::string rg;                     // shell command printing counts (one number, or file:count lines)
  std::string note;
};

struct Outcome {
  double ms = 0;
  std::uint64_t matched = 0;
  std::map<std::string, std::uint64_t> per_job;
  std::string error;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::string shell_quote(const std::string& s) {
  std::string o = "'";
  for (char ch : s) {
    if (ch == '\'') o += "'\\''";
    else o += ch;
  }
  return o + "'";
}

int query(const std::map<std::string, std::string>& a) {
  Corpus c = load_corpus(need(a, "corpus"), false);
  const fs::path data = need(a, "data"), dbp = need(a, "db");
  const int reps = a.count("reps") ? std::stoi(a.at("reps")) : 5;
  const std::string rg = a.count("rg") ? a.at("rg") : "rg";
  const std::string only = a.count("only") ? a.at("only") : "";

  // Time range: days 3 and 4 of the corpus' 7 (whole UTC days, so ripgrep
  // can match them on the lines' own timestamps).
  constexpr std::int64_t kDay = 86400LL * 1000000000LL;
  const std::int64_t day0 = c.min_ts / kDay * kDay;
  const std::int64_t range_start = day0 + 2 * kDay, range_end = day0 + 4 * kDay - 1;
  char d1[16], d2[16];
  {
    std::time_t s1 = range_start / 1000000000, s2 = (range_start + kDay) / 1000000000;
    std::tm t1{}, t2{};
    gmtime_r(&s1, &t1);
    gmtime_r(&s2, &t2);
    std::strftime(d1, sizeof d1, "%y%m%d", &t1);  // HDFS: yyMMdd HHmmss
    std::strftime(d2, sizeof d2, "%y%m%d", &t2);
  }
  std::string files, hdfs_file, open_files;
  for (const Stream& s : c.streams) {
    std::string f = shell_quote((c.dir / s.file).string());
    files += " " + f;
    if (s.job == "HDFS") hdfs_file = f;
    if (s.job.rfind("Open", 0) == 0) open_files += " " + f;
  }
  std::string rare = c.env.count("rare_id") ? c.env.at("rare_id") : "blk_-1";
  // The id's digits: one token for all three (blk_-N is `blk_`, `N` to a tokenizer).
  std::string rare_digits = rare.substr(rare.find_first_of("0123456789"));
  const std::string R = rg + " -j2 --no-messages";

  std::vector<Query> qs = {
      {"rare id (" + rare_digits.substr(0, 12) + "...)", rare_digits, {}, false, false, "\"" + rare_digits + "\"",
       R + " -c -i -w -F " + rare_digits + files, ""},
      {"common word: connection", "connection", {}, false, false, "line : connection",
       R + " -c -i -w connection" + files, ""},
      {"AND: failed password", "failed password", {}, false, false, "line : (failed AND password)",
       R + " --no-filename -i -w failed" + files + " | " + rg + " -c -i -w password", ""},
      {"OR: timeout OR exception", "timeout OR exception", {}, false, false, "line : (timeout OR exception)",
       R + " -c -i -w -e timeout -e exception" + files, ""},
      {"phrase: \"session opened for user\"", "\"session opened for user\"", {}, false, false,
       "line : \"session opened for user\"", R + " -c -i '\\bsession\\W+opened\\W+for\\W+user\\b'" + files, ""},
      {"label+time: job:HDFS, 2 days", "job:HDFS", {}, true, false, "job : HDFS",
       R + " -c '^(" + std::string(d1) + "|" + d2 + ") '" + " " + hdfs_file, ""},
      {"regex field: job:/Open.*/", "job:/Open.*/", {}, false, false, "job : Open*", R + " -c ''" + open_files,
       "FTS5: prefix on the job column"},
      {"NOT: failed NOT password", "failed NOT password", {}, false, false, "line : (failed NOT password)",
       R + " --no-filename -i -w failed" + files + " | " + rg + " -c -v -i -w password", ""},
      {"prefix: authenticat*", "authenticat*", {}, false, false, "line : authenticat*",
       R + " -c -i '\\bauthenticat\\w*'" + files, ""},
      {"count by job: error", "error", {}, false, true, "line : error", R + " -c -i -w error" + files,
       "Strata: one search per job (stream_equals); FTS5: GROUP BY job"},
  };

  logindex::LogStore store(store_options(data));
  sqlite3* db = nullptr;
  sq_check(sqlite3_open_v2(dbp.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), db, "open fts5");

  auto run_strata = [&](const Query& q) {
    Outcome o;
    std::vector<double> ms;
    for (int r = 0; r < reps; ++r) {
      const double t0 = now_s();
      logindex::LogSearch s;
      s.root = logindex::parse_search(q.strata);
      s.stream_equals = q.stream_equals;
      if (q.time_range) {
        s.start_ns = range_start;
        s.end_ns = range_end;
      }
      s.limit = 100;
      auto parts = store.parts();
      o.per_job.clear();
      if (q.per_job) {
        o.matched = 0;
        for (const Stream& st : c.streams) {
          logindex::LogSearch sj = s;
          sj.stream_equals.emplace_back("job", st.job);
          auto res = logindex::run_search(parts, sj);
          o.per_job[st.job] = res.result.matched;
          o.matched += res.result.matched;
        }
      } else {
        auto res = logindex::run_search(parts, s);
        o.matched = res.result.matched;
      }
      ms.push_back((now_s() - t0) * 1e3);
    }
    o.ms = median(ms);
    return o;
  };

  auto run_fts5 = [&](const Query& q) {
    Outcome o;
    std::string where = "logs MATCH ?1";
    if (q.time_range) where += " AND ts BETWEEN ?2 AND ?3";
    std::string count_sql = q.per_job ? "SELECT job, count(*) FROM logs WHERE " + where + " GROUP BY job"
                                      : "SELECT count(*) FROM logs WHERE " + where;
    std::string top_sql = "SELECT job, ts, line FROM logs WHERE " + where + " ORDER BY ts DESC LIMIT 100";
    std::vector<double> ms;
    for (int r = 0; r < reps; ++r) {
      const double t0 = now_s();
      o.matched = 0;
      o.per_job.clear();
      for (const std::string* sql : {&count_sql, &top_sql}) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, sql->c_str(), -1, &st, nullptr) != SQLITE_OK) {
          o.error = sqlite3_errmsg(db);
          return o;
        }
        sqlite3_bind_text(st, 1, q.fts5_match.c_str(), -1, SQLITE_TRANSIENT);
        if (q.time_range) {
          sqlite3_bind_int64(st, 2, range_start);
          sqlite3_bind_int64(st, 3, range_end);
        }
        int rc;
        std::size_t rows = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
          ++rows;
          if (sql == &count_sql) {
            if (q.per_job) {
              auto n = static_cast<std::uint64_t>(sqlite3_column_int64(st, 1));
              o.per_job[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))] = n;
              o.matched += n;
            } else {
              o.matched = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
            }
          } else {
            (void)sqlite3_column_text(st, 2);  // read the line
          }
        }
        if (rc != SQLITE_DONE) o.error = sqlite3_errmsg(db);
        sqlite3_finalize(st);
        if (!o.error.empty()) return o;
      }
      ms.push_back((now_s() - t0) * 1e3);
    }
    o.ms = median(ms);
    return o;
  };

  auto run_rg = [&](const Query& q) {
    Outcome o;
    std::vector<double> ms;
    for (int r = 0; r < reps; ++r) {
      const double t0 = now_s();
      std::FILE* p = popen(q.rg.c_str(), "r");
      if (!p) {
        o.error = "popen failed";
        return o;
      }
      o.matched = 0;
      o.per_job.clear();
      char buf[4096];
      while (std::fgets(buf, sizeof buf, p)) {
        std::string l(buf);
        while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back();
        auto colon = l.rfind(':');
        std::uint64_t n = std::stoull(colon == std::string::npos ? l : l.substr(colon + 1));
        o.matched += n;
        if (colon != std::string::npos) {
          std::string job = fs::path(l.substr(0, colon)).stem().string();
          o.per_job[job] = n;
        }
      }
      pclose(p);  // rg exits 1 when nothing matched: not an error here
      ms.push_back((now_s() - t0) * 1e3);
    }
    o.ms = median(ms);
    return o;
  };

  std::printf("%-38s %12s %12s %12s %10s %10s %10s  %s\n", "query", "Strata ms", "FTS5 ms", "rg ms", "Strata n",
              "FTS5 n", "rg n", "agree");
  int disagreements = 0;
  std::string details;
  for (const Query& q : qs) {
    if (!only.empty() && q.name.find(only) == std::string::npos) continue;
    Outcome s = run_strata(q), f = run_fts5(q), g = run_rg(q);
    bool agree = f.error.empty() && s.matched == f.matched && s.matched == g.matched;
    if (!agree) ++disagreements;
    std::printf("%-38s %12.2f %12.2f %12.1f %10llu %10llu %10llu  %s\n", q.name.c_str(), s.ms, f.ms, g.ms,
                (unsigned long long)s.matched, (unsigned long long)f.matched, (unsigned long long)g.matched,
                agree ? "yes" : (f.error.empty() ? "NO" : ("FTS5 error: " + f.error).c_str()));
    std::fflush(stdout);
    details += "# " + q.name + "\n#   strata: " + q.strata + (q.time_range ? "  [start,end] = days 3-4" : "") +
               "\n#   fts5:   MATCH '" + q.fts5_match + "'" + (q.time_range ? " AND ts BETWEEN start AND end" : "") +
               "\n#   rg:     " + q.rg.substr(0, 160) + (q.rg.size() > 160 ? " ..." : "") + "\n";
    if (!q.note.empty()) details += "#   note:   " + q.note + "\n";
    if (q.per_job) {
      details += "#   per job (Strata / FTS5 / rg):";
      for (const Stream& st : c.streams)
        details += " " + st.job + "=" + std::to_string(s.per_job[st.job]) + "/" + std::to_string(f.per_job[st.job]) +
                   "/" + std::to_string(g.per_job[st.job]);
      details += "\n";
    }
  }
  sqlite3_close(db);
  std::printf("\n%s", details.c_str());
  std::printf("# time range: [%lld, %lld] ns; rare id %s (drawn %s times by the generator); %d repetitions, median\n",
              (long long)range_start, (long long)range_end, rare.c_str(),
              c.env.count("rare_id_draws") ? c.env.at("rare_id_draws").c_str() : "?", reps);
  std::printf("query_disagreements=%d\n", disagreements);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " strata-ingest|fts5-ingest|query --corpus DIR ...\n";
    return 2;
  }
  try {
    auto a = parse_args(argc, argv, 2);
    std::string cmd = argv[1];
    if (cmd == "strata-ingest") return strata_ingest(a);
    if (cmd == "fts5-ingest") return fts5_ingest(a);
    if (cmd == "query") return query(a);
    std::cerr << "unknown command " << cmd << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
