#include "tsdb/query_store.h"

#include "tsdb/db.h"

namespace strata::tsdb {

std::vector<Series> DbQueryStore::select(const std::vector<LabelMatcher>& matchers,
                                         std::int64_t mint, std::int64_t maxt,
                                         const SelectHints& hints) const {
  return db_.select(matchers, mint, maxt, hints);
}

std::vector<Labels> DbQueryStore::series_labels(const std::vector<LabelMatcher>& matchers,
                                                std::int64_t mint, std::int64_t maxt,
                                                std::vector<std::string>*) const {
  return db_.series_labels(matchers, mint, maxt);
}

std::vector<std::string> DbQueryStore::label_names(std::vector<std::string>*) const {
  return db_.label_names();
}

std::vector<std::string> DbQueryStore::label_values(std::string_view name,
                                                    std::vector<std::string>*) const {
  return db_.label_values(name);
}

}  // namespace strata::tsdb
