// Checks the files under deploy/: the systemd units pass `systemd-analyze
// verify` (and keep their sandboxing), every YAML file parses, the Kubernetes
// manifests have the structure the API server requires, every --flag given to
// a Strata binary (systemd ExecStart, compose command, Kubernetes args) and
// every key of an example configuration is one the binary declares
// (docs/config.md), the Grafana dashboards parse and every panel target has
// an expression, and nginx.conf passes `nginx -t` when nginx is installed.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>
#include <catch2/catch.hpp>

#include "tests/support/process.h"

namespace fs = std::filesystem;
using strata::testing::ChildProcess;

namespace {

const fs::path kSource = STRATA_SOURCE_DIR;
const fs::path kDeploy = kSource / "deploy";

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

std::string rel(const fs::path& p) { return fs::relative(p, kSource).string(); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// Files under `dir` (recursively) whose name ends with one of `suffixes`, sorted.
std::vector<fs::path> files_under(const fs::path& dir, const std::vector<std::string>& suffixes) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string name = e.path().filename().string();
    for (const auto& s : suffixes)
      if (ends_with(name, s)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string join_errors(const std::vector<std::string>& errors) {
  std::string s;
  for (const auto& e : errors) s += e + "\n";
  return s;
}

// Finds an executable in PATH (and the sbin directories, which a non-root PATH lacks).
std::string find_program(const std::string& name) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/sbin:/usr/bin:/bin";
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    fs::path p = fs::path(dir) / name;
    if (access(p.c_str(), X_OK) == 0) return p.string();
  }
  return "";
}

struct RunResult {
  int status = -1;
  std::string output;
};

// Runs a program to completion (at most 60 s) and returns its status and output.
RunResult run(const std::string& binary, const std::vector<std::string>& args) {
  ChildProcess p(fs::path(binary).filename().string(), binary, args);
  bool done = strata::testing::eventually([&] { return !p.running(); }, std::chrono::seconds(60));
  RunResult r;
  r.output = p.output();
  r.status = done ? p.stop() : -1000;
  if (!done) p.stop();
  return r;
}

// --- the options each binary declares, from docs/config.md -----------------

// binary -> key -> type ("string", "integer", "duration", "bool", "list", "map", ...)
using Keys = std::map<std::string, std::map<std::string, std::string>>;

Keys parse_config_doc() {
  Keys keys;
  std::stringstream in(read_text(kSource / "docs" / "config.md"));
  std::string line, binary;
  while (std::getline(in, line)) {
    if (starts_with(line, "### `")) {
      binary = line.substr(5, line.find('`', 5) - 5);
      keys[binary];
      continue;
    }
    if (binary.empty() || !starts_with(line, "| `")) continue;
    auto key_end = line.find('`', 3);
    auto type_begin = line.find('|', key_end) + 1;
    auto type_end = line.find('|', type_begin);
    std::string type = line.substr(type_begin, type_end - type_begin);
    type.erase(0, type.find_first_not_of(' '));
    type.erase(type.find_last_not_of(' ') + 1);
    keys[binary][line.substr(3, key_end - 3)] = type;
  }
  return keys;
}

const Keys& config_keys() {
  static const Keys keys = parse_config_doc();
  return keys;
}

// Flags every binary takes besides its options (common/config.cpp).
const std::set<std::string> kValuelessFlags = {"check-config", "help", "help-markdown"};

// Checks a command line of a Strata binary: every --key=value or --key value
// names an option the binary declares. `where` prefixes the errors.
void check_args(const std::string& binary_path, const std::vector<std::string>& args,
                const std::string& where, std::vector<std::string>& errors) {
  std::string binary = fs::path(binary_path).filename().string();
  auto it = config_keys().find(binary);
  if (it == config_keys().end()) {
    errors.push_back(where + ": unknown Strata binary '" + binary + "' (not in docs/config.md)");
    return;
  }
  const auto& keys = it->second;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!starts_with(a, "--")) {
      errors.push_back(where + ": " + binary + ": unexpected argument '" + a +
                       "'; options look like --key=value");
      continue;
    }
    std::string key = a.substr(2);
    auto eq = key.find('=');
    if (eq != std::string::npos) {
      key = key.substr(0, eq);
    } else if (kValuelessFlags.count(key)) {
      continue;
    } else if (i + 1 < args.size()) {
      ++i;  // --key value
    } else {
      errors.push_back(where + ": " + binary + ": option --" + key + " needs a value");
      continue;
    }
    if (key == "config") continue;
    if (!keys.count(key))
      errors.push_back(where + ": " + binary + " declares no option --" + key +
                       " (see docs/config.md)");
  }
}

// Checks a configuration file the way Config::merge_yaml reads it: nested
// maps down to a declared key, whose value has the declared shape.
void check_config_node(const std::map<std::string, std::string>& keys, const YAML::Node& node,
                       const std::string& prefix, const std::string& where,
                       std::vector<std::string>& errors) {
  if (!node.IsMap()) {
    errors.push_back(where + ": expected a map" +
                     (prefix.empty() ? "" : " under '" + prefix + "'"));
    return;
  }
  for (const auto& it : node) {
    std::string name = it.first.as<std::string>();
    std::string key = prefix.empty() ? name : prefix + "." + name;
    const YAML::Node& value = it.second;
    auto k = keys.find(key);
    if (k != keys.end()) {
      const std::string& type = k->second;
      bool ok = type == "list"  ? (value.IsSequence() || value.IsNull())
                : type == "map" ? (value.IsMap() || value.IsNull())
                                : value.IsScalar();
      if (!ok) errors.push_back(where + ": key '" + key + "' must be a " + type);
      continue;
    }
    bool known_prefix = std::any_of(
        keys.begin(), keys.end(), [&](const auto& kv) { return starts_with(kv.first, key + "."); });
    if (value.IsMap() && known_prefix) {
      check_config_node(keys, value, key, where, errors);
      continue;
    }
    errors.push_back(where + ": unknown config key '" + key + "'");
  }
}

void check_config_yaml(const std::string& binary, const std::string& text, const std::string& where,
                       std::vector<std::string>& errors) {
  auto it = config_keys().find(binary);
  if (it == config_keys().end()) {
    errors.push_back(where + ": no options of '" + binary + "' in docs/config.md");
    return;
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    errors.push_back(where + ": not valid YAML: " + e.what());
    return;
  }
  check_config_node(it->second, root, "", where, errors);
}

// The binary that reads a configuration file named like deploy/config/<x>.yaml.
std::string binary_of_config(const std::string& filename) {
  std::string stem = fs::path(filename).stem().string();
  return stem == "strata" ? "strata" : "strata-" + stem;
}

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string w;
  while (ss >> w) out.push_back(w);
  return out;
}

// n[k1][k2]...: a Null node when a key is missing or a node on the way is not
// a map (yaml-cpp throws when a missing key's result is used).
YAML::Node at(const YAML::Node& n, std::initializer_list<const char*> path) {
  YAML::Node cur(n);
  for (const char* k : path) {
    const YAML::Node& c = cur;  // const: a lookup must not add the key
    if (!c.IsMap() || !c[k]) return YAML::Node();
    cur.reset(c[k]);  // not operator=, which would overwrite the node itself
  }
  return cur;
}

bool has(const YAML::Node& n, std::initializer_list<const char*> path) {
  return !at(n, path).IsNull();
}

std::vector<std::string> as_strings(const YAML::Node& seq) {
  std::vector<std::string> out;
  for (const auto& e : seq) out.push_back(e.as<std::string>());
  return out;
}

// --- systemd ----------------------------------------------------------------

struct Unit {
  fs::path path;
  std::string text;
  std::multimap<std::string, std::string> directives;  // Key -> value (all sections)
};

std::vector<Unit> units() {
  std::vector<Unit> out;
  for (const auto& p : files_under(kDeploy / "systemd", {".service"})) {
    Unit u{p, read_text(p), {}};
    std::stringstream ss(u.text);
    std::string line;
    while (std::getline(ss, line)) {
      if (line.empty() || line[0] == '#' || line[0] == ';' || line[0] == '[') continue;
      auto eq = line.find('=');
      if (eq != std::string::npos) u.directives.emplace(line.substr(0, eq), line.substr(eq + 1));
    }
    out.push_back(std::move(u));
  }
  return out;
}

std::string directive(const Unit& u, const std::string& key) {
  auto range = u.directives.equal_range(key);
  std::string last;
  for (auto it = range.first; it != range.second; ++it) last = it->second;
  return last;
}

}  // namespace

TEST_CASE("deploy: docs/config.md lists the options of every binary", "[deploy]") {
  const auto& keys = config_keys();
  for (const char* b : {"strata-agent", "strata-collector", "strata-tsdb", "strata-logindex",
                        "strata-alerting", "strata"}) {
    INFO(b);
    REQUIRE(keys.count(b));
    CHECK(keys.at(b).size() > 5);
  }
  CHECK(keys.at("strata-tsdb").at("tsdb.consumer_group") == "string");
  CHECK(keys.at("strata-agent").at("agent.files") == "list");
  CHECK(keys.at("strata-collector").at("kafka.properties") == "map");
}

TEST_CASE("deploy: the flag check catches a misspelled option", "[deploy]") {
  std::vector<std::string> errors;
  check_args("/usr/local/bin/strata-tsdb",
             {"--config", "/etc/strata/tsdb.yaml", "--tsdb.listen=0.0.0.0:9090", "--kafka.brokers",
              "k:9092", "--check-config"},
             "ok", errors);
  CHECK(errors.empty());
  check_args("strata-tsdb", {"--tsdb.consumer-group=x"}, "typo", errors);
  check_args("strata-tsdb", {"--logindex.listen=:1"}, "other binary's key", errors);
  check_args("strata-tsdb", {"tsdb.listen=:1"}, "no dashes", errors);
  check_args("strata-tsbd", {}, "binary", errors);
  REQUIRE(errors.size() == 4);
  CHECK(errors[0].find("--tsdb.consumer-group") != std::string::npos);

  errors.clear();
  check_config_yaml("strata-tsdb", "tsdb:\n  retention:\n    raw: 1d\n  listen: :1\n", "ok",
                    errors);
  CHECK(errors.empty());
  check_config_yaml("strata-tsdb", "tsdb:\n  retension:\n    raw: 1d\n", "typo", errors);
  check_config_yaml("strata-agent", "agent:\n  files: /var/log/x\n", "shape", errors);
  CHECK(errors.size() == 2);
}

TEST_CASE("deploy: every systemd unit passes systemd-analyze verify", "[deploy]") {
  std::string analyze = find_program("systemd-analyze");
  // scripts/setup.sh installs Debian's systemd package, which has it.
  REQUIRE_FALSE(analyze.empty());
  auto all = units();
  REQUIRE(all.size() >= 6);

  // verify checks that ExecStart's program exists: run the copies with
  // /bin/true in place of /usr/local/bin/strata-*, arguments unchanged.
  fs::path dir = strata::testing::temp_dir("strata-units");
  std::vector<std::string> args = {"verify", "--man=no"};
  for (const auto& u : all) {
    std::string text = u.text;
    const std::string from = "ExecStart=/usr/local/bin/";
    auto pos = text.find(from);
    REQUIRE(pos != std::string::npos);
    auto end = text.find_first_of(" \n", pos + from.size());
    text.replace(pos, end - pos, "ExecStart=/bin/true");
    write_text(dir / u.path.filename(), text);
    args.push_back((dir / u.path.filename()).string());
  }
  RunResult r = run(analyze, args);
  INFO(r.output);
  CHECK(r.status == 0);
  // verify exits 0 even for an unknown directive or a bad value ("Unknown key
  // name 'ProtectSystm'", "Failed to parse ..., ignoring"): it only logs them.
  // So every line of its output is an error, except the known-benign ones:
  //  - messages about units that are not ours (the host's own units pulled in
  //    as dependencies, e.g. a distribution unit with a directive this
  //    systemd version deprecates): they name no file of ours;
  //  - "Failed to connect to bus"/"System has not been booted with systemd":
  //    verify in a container without systemd as PID 1, nothing about a unit.
  std::vector<std::string> problems;
  std::stringstream ss(r.output);
  std::string line;
  while (std::getline(ss, line)) {
    if (line.empty()) continue;
    bool ours = line.find(dir.string()) != std::string::npos;
    for (const auto& u : all)
      if (line.find(u.path.filename().string()) != std::string::npos) ours = true;
    bool environment = line.find("Failed to connect to bus") != std::string::npos ||
                       line.find("has not been booted with systemd") != std::string::npos;
    bool foreign_unit = false;
    for (const char* suffix : {".service", ".target", ".socket", ".mount", ".slice"})
      if (line.find(suffix) != std::string::npos) foreign_unit = !ours;
    if (!environment && !foreign_unit) problems.push_back(line);
  }
  CHECK(join_errors(problems) == "");

  // The sandbox stays tight: systemd's own exposure score (0 = fully
  // sandboxed, 10 = none) must stay at most 2.5 for every unit.
  for (const auto& u : all) {
    RunResult s = run(analyze, {"security", "--offline=yes", "--threshold=25", "--no-pager",
                                (dir / u.path.filename()).string()});
    INFO(u.path.filename().string() << ":\n" << s.output);
    CHECK(s.status == 0);
  }
  fs::remove_all(dir);
}

TEST_CASE("deploy: systemd units run declared flags under a sandbox", "[deploy]") {
  std::set<std::string> names;
  std::vector<std::string> errors;
  for (const auto& u : units()) {
    std::string name = u.path.filename().string();
    names.insert(name);
    INFO(name);
    auto words = split_words(directive(u, "ExecStart"));
    REQUIRE_FALSE(words.empty());
    CHECK(starts_with(words[0], "/usr/local/bin/strata"));
    check_args(words[0], std::vector<std::string>(words.begin() + 1, words.end()), rel(u.path),
               errors);
    CHECK(directive(u, "Restart") == "on-failure");
    CHECK_FALSE(directive(u, "RestartSec").empty());
    CHECK(directive(u, "StartLimitBurst") != "");
    CHECK(directive(u, "RestartPreventExitStatus") == "2");
    CHECK(directive(u, "NoNewPrivileges") == "yes");
    CHECK(directive(u, "ProtectSystem") == "strict");
    CHECK(directive(u, "PrivateTmp") == "yes");
    CHECK(directive(u, "ProtectKernelTunables") == "yes");
    CHECK(directive(u, "ProtectKernelModules") == "yes");
    CHECK_FALSE(directive(u, "RestrictAddressFamilies").empty());
    if (name == "strata-agent.service") {
      // A static user that ACLs can name; /proc must stay whole (see the unit).
      CHECK(directive(u, "User") == "strata-agent");
      CHECK(directive(u, "ProcSubset").empty());
    } else {
      CHECK(directive(u, "DynamicUser") == "yes");
      CHECK(directive(u, "ProcSubset") == "pid");
    }
    // Stores keep their data in their StateDirectory, which is what data_dir names.
    std::string state = directive(u, "StateDirectory");
    if (!state.empty())
      CHECK(directive(u, "ExecStart").find("=/var/lib/" + state) != std::string::npos);
  }
  for (const char* n :
       {"strata-agent.service", "strata-collector.service", "strata-tsdb.service",
        "strata-logindex.service", "strata-alerting.service", "strata-query.service"})
    CHECK(names.count(n));
  CHECK(join_errors(errors) == "");
}

TEST_CASE("deploy: every YAML file under deploy parses", "[deploy]") {
  auto files = files_under(kDeploy, {".yaml", ".yml"});
  REQUIRE(files.size() >= 10);
  for (const auto& f : files) {
    INFO(rel(f));
    std::vector<YAML::Node> docs;
    REQUIRE_NOTHROW(docs = YAML::LoadAllFromFile(f.string()));
    bool any = std::any_of(docs.begin(), docs.end(), [](const auto& d) { return !d.IsNull(); });
    CHECK(any);
  }
}

TEST_CASE("deploy: example configurations use declared keys", "[deploy]") {
  std::vector<std::string> errors;
  auto files = files_under(kDeploy / "config", {".yaml"});
  REQUIRE(files.size() >= 6);
  for (const auto& f : files) {
    if (f.parent_path() != kDeploy / "config") continue;  // rules/ are rule files
    check_config_yaml(binary_of_config(f.filename().string()), read_text(f), rel(f), errors);
  }
  // Rule files: Prometheus's format, groups of rules with an expression each.
  for (const auto& f : files_under(kDeploy / "config" / "rules", {".yml", ".yaml"})) {
    INFO(rel(f));
    YAML::Node root = YAML::LoadFile(f.string());
    REQUIRE(at(root, {"groups"}).IsSequence());
    for (const auto& g : at(root, {"groups"}))
      for (const auto& rule : at(g, {"rules"}))
        CHECK(!at(rule, {"expr"}).as<std::string>("").empty());
  }
  CHECK(join_errors(errors) == "");
}

TEST_CASE("deploy: Kubernetes manifests have the required structure", "[deploy]") {
  auto files = files_under(kDeploy / "kubernetes", {".yaml", ".yml"});
  REQUIRE_FALSE(files.empty());
  std::vector<std::string> errors;
  std::map<std::string, int> kinds;
  std::set<std::string> services, config_maps, pvcs;
  struct Ref {
    std::string what, name, where;
  };
  std::vector<Ref> refs;

  for (const auto& f : files) {
    int index = 0;
    for (const auto& doc : YAML::LoadAllFromFile(f.string())) {
      std::string where = rel(f) + " document " + std::to_string(++index);
      if (doc.IsNull()) continue;
      if (!doc.IsMap()) {
        errors.push_back(where + ": not a map");
        continue;
      }
      std::string api = at(doc, {"apiVersion"}).as<std::string>("");
      std::string kind = at(doc, {"kind"}).as<std::string>("");
      std::string name = at(doc, {"metadata", "name"}).as<std::string>("");
      if (api.empty() || kind.empty() || name.empty()) {
        errors.push_back(where + ": needs apiVersion, kind and metadata.name");
        continue;
      }
      where += " (" + kind + " " + name + ")";
      ++kinds[kind];
      if (kind == "Service") services.insert(name);
      if (kind == "ConfigMap") config_maps.insert(name);
      if (kind == "PersistentVolumeClaim") pvcs.insert(name);
      const YAML::Node spec = at(doc, {"spec"});

      if (kind == "Service") {
        if (!at(spec, {"ports"}).IsSequence() || at(spec, {"ports"}).size() == 0)
          errors.push_back(where + ": spec.ports must list the ports");
        for (const auto& p : at(spec, {"ports"}))
          if (!has(p, {"port"})) errors.push_back(where + ": a port without port:");
      }
      if (kind == "ConfigMap") {
        // Configuration files of Strata binaries: the keys must exist.
        for (const auto& e : at(doc, {"data"})) {
          std::string file = e.first.as<std::string>();
          std::string binary = binary_of_config(file);
          if (ends_with(file, ".yaml") && config_keys().count(binary))
            check_config_yaml(binary, e.second.as<std::string>(), where + " " + file, errors);
          else if (ends_with(file, ".yml") || ends_with(file, ".yaml"))
            try {
              YAML::Load(e.second.as<std::string>());
            } catch (const YAML::Exception& ex) {
              errors.push_back(where + " " + file + ": not valid YAML: " + ex.what());
            }
        }
      }
      if (kind != "Deployment" && kind != "StatefulSet" && kind != "DaemonSet") continue;

      // Workloads: the selector must select the pod template.
      const YAML::Node match = at(spec, {"selector", "matchLabels"});
      const YAML::Node labels = at(spec, {"template", "metadata", "labels"});
      if (!match.IsMap() || match.size() == 0) {
        errors.push_back(where + ": spec.selector.matchLabels is required");
      } else {
        for (const auto& l : match) {
          std::string k = l.first.as<std::string>();
          if (!labels[k] || labels[k].as<std::string>() != l.second.as<std::string>())
            errors.push_back(where + ": selector label " + k +
                             " is not on spec.template.metadata.labels");
        }
      }
      if (kind == "StatefulSet") {
        std::string svc = at(spec, {"serviceName"}).as<std::string>("");
        if (svc.empty())
          errors.push_back(where + ": spec.serviceName is required");
        else
          refs.push_back({"Service", svc, where});
      }
      const YAML::Node pod = at(spec, {"template", "spec"});
      if (!at(pod, {"containers"}).IsSequence() || at(pod, {"containers"}).size() == 0) {
        errors.push_back(where + ": spec.template.spec.containers is required");
        continue;
      }
      for (const auto& v : at(pod, {"volumes"})) {
        if (has(v, {"configMap"}))
          refs.push_back({"ConfigMap", at(v, {"configMap", "name"}).as<std::string>(""), where});
        if (has(v, {"persistentVolumeClaim"}))
          refs.push_back({"PersistentVolumeClaim",
                          at(v, {"persistentVolumeClaim", "claimName"}).as<std::string>(""),
                          where});
      }
      for (const auto& c : at(pod, {"containers"})) {
        std::string cname = at(c, {"name"}).as<std::string>("");
        if (cname.empty() || at(c, {"image"}).as<std::string>("").empty()) {
          errors.push_back(where + ": every container needs name and image");
          continue;
        }
        std::string cwhere = where + " container " + cname;
        if (!at(c, {"command"}).IsSequence() || at(c, {"command"}).size() == 0)
          continue;  // not Strata's
        auto command = as_strings(at(c, {"command"}));
        if (!starts_with(fs::path(command[0]).filename().string(), "strata")) continue;
        std::vector<std::string> args(command.begin() + 1, command.end());
        for (const auto& a : as_strings(at(c, {"args"}))) args.push_back(a);
        check_args(command[0], args, cwhere, errors);
        // Probes on the paths common/service.cpp serves.
        if (at(c, {"livenessProbe", "httpGet", "path"}).as<std::string>("") != "/healthz")
          errors.push_back(cwhere + ": livenessProbe must GET /healthz");
        if (at(c, {"readinessProbe", "httpGet", "path"}).as<std::string>("") != "/readyz")
          errors.push_back(cwhere + ": readinessProbe must GET /readyz");
        if (!has(c, {"resources", "requests"}) || !has(c, {"resources", "limits"}))
          errors.push_back(cwhere + ": needs resources.requests and resources.limits");
      }
    }
  }
  for (const auto& r : refs) {
    const auto& known = r.what == "Service" ? services : r.what == "ConfigMap" ? config_maps : pvcs;
    if (!known.count(r.name))
      errors.push_back(r.where + ": refers to " + r.what + " " + r.name + ", defined nowhere");
  }
  CHECK(join_errors(errors) == "");
  CHECK(kinds["DaemonSet"] >= 1);
  CHECK(kinds["Deployment"] >= 3);
  CHECK(kinds["StatefulSet"] >= 3);
  CHECK(kinds["Namespace"] == 1);
}

TEST_CASE("deploy: docker-compose services are consistent and use declared flags", "[deploy]") {
  fs::path file = kDeploy / "docker-compose" / "docker-compose.yml";
  YAML::Node root = YAML::LoadFile(file.string());
  const YAML::Node services = at(root, {"services"});
  REQUIRE(services.IsMap());
  std::vector<std::string> errors;
  int kafka_brokers = 0, strata_services = 0;
  for (const auto& s : services) {
    std::string name = s.first.as<std::string>();
    const YAML::Node svc = s.second;
    std::string where = rel(file) + " service " + name;
    if (!has(svc, {"image"}) && !has(svc, {"build"}))
      errors.push_back(where + ": needs image or build");
    if (starts_with(at(svc, {"image"}).as<std::string>(""), "apache/kafka") &&
        has(svc, {"healthcheck"}))  // the brokers (kafka-init has none)
      ++kafka_brokers;
    // depends_on: a list or a map of service names that exist.
    std::vector<std::string> deps;
    const YAML::Node depends_on = at(svc, {"depends_on"});
    if (depends_on.IsMap())
      for (const auto& d : depends_on) deps.push_back(d.first.as<std::string>());
    else
      deps = as_strings(depends_on);
    for (const auto& dep : deps)
      if (!has(services, {dep.c_str()}))
        errors.push_back(where + ": depends on unknown service " + dep);
    // Volumes: named ones are declared, bind-mounted files of this repo exist.
    for (const auto& v : at(svc, {"volumes"})) {
      std::string spec = v.as<std::string>();
      std::string source = spec.substr(0, spec.find(':'));
      if (starts_with(source, ".")) {
        if (!fs::exists(file.parent_path() / source))
          errors.push_back(where + ": mounts " + source + ", which does not exist");
      } else if (!starts_with(source, "/") && !has(at(root, {"volumes"}), {source.c_str()})) {
        errors.push_back(where + ": volume " + source + " is not declared");
      }
    }
    // Strata's binaries: every flag declared.
    std::vector<std::string> command;
    if (at(svc, {"command"}).IsSequence()) command = as_strings(at(svc, {"command"}));
    if (at(svc, {"command"}).IsScalar())
      command = split_words(at(svc, {"command"}).as<std::string>());
    if (command.empty() || !starts_with(command[0], "strata")) continue;
    ++strata_services;
    check_args(command[0], std::vector<std::string>(command.begin() + 1, command.end()), where,
               errors);
  }
  CHECK(join_errors(errors) == "");
  CHECK(kafka_brokers == 3);
  CHECK(strata_services >= 10);
  // Two tsdb shards x two replicas.
  for (const char* n : {"tsdb-a0", "tsdb-a1", "tsdb-b0", "tsdb-b1", "strata-query", "grafana"})
    CHECK(services[n]);
}

TEST_CASE("deploy: Grafana dashboards parse and every target has an expression", "[deploy]") {
  // The provisioned data sources, by uid.
  std::set<std::string> uids;
  for (const auto& f : files_under(kDeploy / "grafana" / "provisioning" / "datasources", {".yaml"}))
    for (const auto& ds : YAML::LoadFile(f.string())["datasources"])
      uids.insert(at(ds, {"uid"}).as<std::string>(""));
  CHECK(uids.count("strata-metrics"));
  CHECK(uids.count("strata-logs"));

  auto files = files_under(kDeploy / "grafana" / "dashboards", {".json"});
  REQUIRE_FALSE(files.empty());
  for (const auto& f : files) {
    INFO(rel(f));
    YAML::Node dash;
    REQUIRE_NOTHROW(dash = YAML::LoadFile(f.string()));  // JSON is YAML
    REQUIRE(at(dash, {"panels"}).IsSequence());
    REQUIRE(at(dash, {"panels"}).size() > 0);
    CHECK_FALSE(at(dash, {"uid"}).as<std::string>("").empty());
    std::vector<YAML::Node> panels;
    for (const auto& p : at(dash, {"panels"})) {
      panels.push_back(p);
      for (const auto& inner : at(p, {"panels"})) panels.push_back(inner);  // rows
    }
    int targets = 0;
    for (const auto& p : panels) {
      if (at(p, {"type"}).as<std::string>("") == "row") continue;
      INFO("panel " << at(p, {"title"}).as<std::string>(""));
      REQUIRE(at(p, {"targets"}).IsSequence());
      CHECK(at(p, {"targets"}).size() > 0);
      for (const auto& t : at(p, {"targets"})) {
        ++targets;
        CHECK_FALSE(at(t, {"expr"}).as<std::string>("").empty());
        std::string uid = at(t, {"datasource", "uid"})
                              .as<std::string>(at(p, {"datasource", "uid"}).as<std::string>(""));
        CHECK(uids.count(uid));
      }
    }
    CHECK(targets >= 10);
  }
}

TEST_CASE("deploy: nginx.conf passes nginx -t", "[deploy]") {
  std::string nginx = find_program("nginx");
  if (nginx.empty()) {
    WARN(
        "nginx is not installed: deploy/docker-compose/nginx.conf not checked (apt-get install "
        "nginx)");
    return;
  }
  // nginx resolves upstream hosts while loading the file; the compose service
  // names do not resolve here, so check a copy that points them at 127.0.0.1.
  std::string text = read_text(kDeploy / "docker-compose" / "nginx.conf");
  fs::path dir = strata::testing::temp_dir("strata-nginx");
  std::string out;
  std::stringstream ss(text);
  std::string line;
  int servers = 0;
  while (std::getline(ss, line)) {
    auto pos = line.find("server ");
    auto colon = line.find(':', pos);
    if (pos != std::string::npos && colon != std::string::npos &&
        line.find_first_not_of(' ') == pos) {
      line = line.substr(0, pos) + "server 127.0.0.1" + line.substr(colon);
      ++servers;
    }
    // nginx -t creates the temporary directories: in our temp dir, not /tmp.
    for (auto p = line.find("/tmp/nginx-"); p != std::string::npos; p = line.find("/tmp/nginx-"))
      line.replace(p, 5, dir.string() + "/");
    out += line + "\n";
  }
  CHECK(servers >= 2);
  write_text(dir / "nginx.conf", out);
  RunResult r =
      run(nginx, {"-t", "-q", "-c", (dir / "nginx.conf").string(), "-p", dir.string() + "/"});
  INFO(r.output);
  CHECK(r.status == 0);
  fs::remove_all(dir);
}
