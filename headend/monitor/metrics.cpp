#include "headend/monitor/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace ami::monitor {

namespace {

bool is_name_char(char c, bool first, bool allow_colon) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
  return first ? alpha : alpha || (c >= '0' && c <= '9');
}

bool is_valid_name(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!is_name_char(name[i], i == 0, allow_colon)) return false;
  }
  return true;
}

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
  }
  return "untyped";
}

// `inner` is the rendered label list without braces ("a=\"x\",b=\"y\"" or empty).
void append_sample(std::string& out, std::string_view name, std::string_view inner, std::string_view value) {
  out += name;
  if (!inner.empty()) {
    out += '{';
    out += inner;
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

// Backslash and newline are escaped everywhere; the double quote only inside label values.
std::string escape(std::string_view text, bool escape_quote) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view value) { return escape(value, true); }

std::string escape_help(std::string_view help) { return escape(help, false); }

std::string format_sample_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

bool is_valid_metric_name(std::string_view name) { return is_valid_name(name, true); }

bool is_valid_label_name(std::string_view name) {
  return is_valid_name(name, false) && name.substr(0, 2) != "__";
}

// ---------------------------------------------------------------------------------------------

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(upper_bounds_.size() + 1)) {}

void Histogram::observe(double v) noexcept {
  // Bucket i holds upper_bounds_[i-1] < v <= upper_bounds_[i]; the last one is +Inf (and NaN).
  const auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), v);
  const auto index = static_cast<std::size_t>(it - upper_bounds_.begin());
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.upper_bounds = upper_bounds_;
  s.cumulative.reserve(upper_bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// ---------------------------------------------------------------------------------------------

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
                       std::size_t max_series)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      max_series_(std::max<std::size_t>(max_series, 1)) {
  if (!is_valid_metric_name(name_)) throw std::invalid_argument("metric name '" + name_ + "' is not valid");
  if (type_ == MetricType::counter && (name_.size() < 6 || name_.substr(name_.size() - 6) != "_total")) {
    throw std::invalid_argument("counter name '" + name_ + "' must end in _total");
  }
  for (const auto& label : label_names_) {
    if (!is_valid_label_name(label)) {
      throw std::invalid_argument("metric '" + name_ + "': label name '" + label + "' is not valid");
    }
    if (type_ == MetricType::histogram && label == "le") {
      throw std::invalid_argument("metric '" + name_ + "': label 'le' is reserved for histogram buckets");
    }
    if (std::count(label_names_.begin(), label_names_.end(), label) > 1) {
      throw std::invalid_argument("metric '" + name_ + "': label '" + label + "' given twice");
    }
  }
}

bool FamilyBase::LabelValuesLess::operator()(const LabelValues& a, std::initializer_list<std::string_view> b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](std::string_view x, std::string_view y) { return x < y; });
}

bool FamilyBase::LabelValuesLess::operator()(std::initializer_list<std::string_view> a, const LabelValues& b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](std::string_view x, std::string_view y) { return x < y; });
}

void* FamilyBase::find_or_create(std::initializer_list<std::string_view> values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument(fmt::format("metric '{}' takes {} label values, got {}", name_,
                                            label_names_.size(), values.size()));
  }
  const std::lock_guard lock(mutex_);
  if (const auto it = series_.find(values); it != series_.end()) return it->second.get();
  if (series_.size() >= max_series_) {
    if (overflow_counter_ != nullptr) overflow_counter_->inc();
    if (!overflow_) {
      overflow_ = make_series();
      series_.emplace(LabelValues(label_names_.size(), "overflow"), overflow_);
    }
    return overflow_.get();
  }
  auto series = make_series();
  void* raw = series.get();
  series_.emplace(LabelValues(values.begin(), values.end()), std::move(series));
  return raw;
}

void FamilyBase::render(std::string& out) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, escape_help(help_), name_, type_name(type_));
  const std::lock_guard lock(mutex_);
  for (const auto& [values, series] : series_) {
    std::string inner;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) inner += ',';
      inner += fmt::format("{}=\"{}\"", label_names_[i], escape_label_value(values[i]));
    }
    render_series(out, inner, series.get());
  }
}

template <>
std::shared_ptr<void> Family<Counter>::make_series() const {
  return std::make_shared<Counter>();
}
template <>
std::shared_ptr<void> Family<Gauge>::make_series() const {
  return std::make_shared<Gauge>();
}
template <>
std::shared_ptr<void> Family<Histogram>::make_series() const {
  return std::make_shared<Histogram>(bounds_);
}

template <>
void Family<Counter>::render_series(std::string& out, const std::string& labels, const void* series) const {
  append_sample(out, name(), labels, fmt::format("{}", static_cast<const Counter*>(series)->value()));
}
template <>
void Family<Gauge>::render_series(std::string& out, const std::string& labels, const void* series) const {
  append_sample(out, name(), labels, format_sample_value(static_cast<const Gauge*>(series)->value()));
}
template <>
void Family<Histogram>::render_series(std::string& out, const std::string& labels, const void* series) const {
  const auto snap = static_cast<const Histogram*>(series)->snapshot();
  const std::string bucket_name = name() + "_bucket";
  const std::string prefix = labels.empty() ? std::string{} : labels + ",";
  for (std::size_t i = 0; i < snap.upper_bounds.size(); ++i) {
    append_sample(out, bucket_name, prefix + "le=\"" + format_sample_value(snap.upper_bounds[i]) + "\"",
                  fmt::format("{}", snap.cumulative[i]));
  }
  const auto count = snap.cumulative.back();
  append_sample(out, bucket_name, prefix + "le=\"+Inf\"", fmt::format("{}", count));
  append_sample(out, name() + "_sum", labels, format_sample_value(snap.sum));
  append_sample(out, name() + "_count", labels, fmt::format("{}", count));
}

// ---------------------------------------------------------------------------------------------

MetricsRegistry::MetricsRegistry() {
  overflows_ = &counter("ami_metrics_series_overflow_total",
                        "Label sets refused because a metric family reached its series limit (folded into "
                        "the series labelled overflow)")
                    .get();
}

void MetricsRegistry::add(std::unique_ptr<FamilyBase> family) {
  const std::lock_guard lock(mutex_);
  for (const auto& existing : families_) {
    if (existing->name() == family->name()) {
      throw std::invalid_argument("metric '" + family->name() + "' registered twice");
    }
    // A histogram also owns NAME_bucket, NAME_sum and NAME_count.
    for (const auto* hist : {existing.get(), family.get()}) {
      if (hist->type() != MetricType::histogram) continue;
      const auto& other = hist == existing.get() ? family->name() : existing->name();
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        if (other == hist->name() + suffix) {
          throw std::invalid_argument("metric '" + other + "' clashes with histogram '" + hist->name() + "'");
        }
      }
    }
  }
  family->overflow_counter_ = overflows_;
  families_.push_back(std::move(family));
}

Family<Counter>& MetricsRegistry::counter(std::string name, std::string help, std::vector<std::string> label_names,
                                          std::size_t max_series) {
  auto family = std::make_unique<Family<Counter>>(std::move(name), std::move(help), MetricType::counter,
                                                  std::move(label_names), max_series);
  auto& ref = *family;
  add(std::move(family));
  if (ref.label_names().empty()) ref.get();  // a label-less family always shows its one series
  return ref;
}

Family<Gauge>& MetricsRegistry::gauge(std::string name, std::string help, std::vector<std::string> label_names,
                                      std::size_t max_series) {
  auto family = std::make_unique<Family<Gauge>>(std::move(name), std::move(help), MetricType::gauge,
                                                std::move(label_names), max_series);
  auto& ref = *family;
  add(std::move(family));
  if (ref.label_names().empty()) ref.get();
  return ref;
}

Family<Histogram>& MetricsRegistry::histogram(std::string name, std::string help, std::vector<std::string> label_names,
                                              std::vector<double> upper_bounds, std::size_t max_series) {
  if (upper_bounds.empty()) throw std::invalid_argument("histogram '" + name + "' needs at least one bucket bound");
  for (std::size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i]) || (i > 0 && upper_bounds[i] <= upper_bounds[i - 1])) {
      throw std::invalid_argument("histogram '" + name + "': bucket bounds must be finite and strictly increasing");
    }
  }
  auto family = std::make_unique<Family<Histogram>>(std::move(name), std::move(help), MetricType::histogram,
                                                    std::move(label_names), max_series);
  family->bounds_ = std::move(upper_bounds);
  auto& ref = *family;
  add(std::move(family));
  if (ref.label_names().empty()) ref.get();
  return ref;
}

void MetricsRegistry::on_collect(std::function<void()> hook) {
  const std::lock_guard lock(mutex_);
  hooks_.push_back(std::move(hook));
}

std::string MetricsRegistry::render() {
  std::vector<std::function<void()>> hooks;
  {
    const std::lock_guard lock(mutex_);
    hooks = hooks_;
  }
  for (const auto& hook : hooks) hook();
  std::string out;
  const std::lock_guard lock(mutex_);
  for (const auto& family : families_) family->render(out);
  return out;
}

}  // namespace ami::monitor
