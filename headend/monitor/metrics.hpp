// Metrics registry: counters, gauges and histograms with fixed label names, rendered in the
// Prometheus text exposition format 0.0.4 (docs/MONITORING.md "Metrics").
//
// Ownership/threads: a MetricsRegistry owns every family and every series it creates; references
// returned by counter()/gauge()/histogram() and by Family::with() stay valid for the registry's
// lifetime. Register families at start-up (one thread). After that any thread may call
// Family::with() (takes a short mutex; cache the returned reference on hot paths), increment or
// set a series (lock-free atomics), and render() (takes the family mutexes briefly).
// Errors: registration throws std::invalid_argument for a bad or duplicate name, a reserved label
// name or bad bucket bounds (a start-up programming error). with() given the wrong number of label
// values throws std::invalid_argument too. Nothing on the hot path throws or allocates once the
// series exists. Label cardinality is bounded: past a family's max_series, with() returns one
// shared overflow series whose every label value is "overflow" (and counts it in
// ami_metrics_series_overflow_total), so a runaway label can never grow memory without bound.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ami::monitor {

class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  // For counters mirrored from another component's running total: never goes backwards.
  void advance_to(std::uint64_t total) noexcept {
    auto current = value_.load(std::memory_order_relaxed);
    while (current < total && !value_.compare_exchange_weak(current, total, std::memory_order_relaxed)) {
    }
  }
  [[nodiscard]] std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(double v) noexcept { value_.fetch_add(v, std::memory_order_relaxed); }
  [[nodiscard]] double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // `upper_bounds` strictly increasing and finite; the +Inf bucket is implicit.
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v) noexcept;

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0.0;
  };
  [[nodiscard]] Snapshot snapshot() const;

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // non-cumulative, size bounds + 1
  std::atomic<double> sum_{0.0};
};

enum class MetricType { counter, gauge, histogram };

// Renders and owns the series of one metric family; see Family<M> below.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
             std::size_t max_series);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] MetricType type() const { return type_; }
  [[nodiscard]] const std::vector<std::string>& label_names() const { return label_names_; }
  // Appends "# HELP", "# TYPE" and every series to `out`.
  void render(std::string& out) const;

 protected:
  using LabelValues = std::vector<std::string>;
  // Orders stored label values and looks them up by string_views, so finding an existing series
  // (every read's counters) builds no strings.
  struct LabelValuesLess {
    using is_transparent = void;
    bool operator()(const LabelValues& a, const LabelValues& b) const { return a < b; }
    bool operator()(const LabelValues& a, std::initializer_list<std::string_view> b) const;
    bool operator()(std::initializer_list<std::string_view> a, const LabelValues& b) const;
  };
  // Finds or creates the series for `values` (under mutex_); the overflow series past max_series.
  void* find_or_create(std::initializer_list<std::string_view> values);
  virtual std::shared_ptr<void> make_series() const = 0;
  template <class F>
  void for_each_series(F&& f) {
    const std::lock_guard lock(mutex_);
    for (auto& [values, series] : series_) f(series.get());
  }
  virtual void render_series(std::string& out, const std::string& labels, const void* series) const = 0;

  Counter* overflow_counter_ = nullptr;  // set by the registry

 private:
  friend class MetricsRegistry;
  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
  std::size_t max_series_;
  mutable std::mutex mutex_;
  std::map<LabelValues, std::shared_ptr<void>, LabelValuesLess> series_;
  std::shared_ptr<void> overflow_;
};

template <class Metric>
class Family final : public FamilyBase {
 public:
  using FamilyBase::FamilyBase;
  // The series for these label values, in label_names() order; created at first use.
  Metric& with(std::initializer_list<std::string_view> values) {
    return *static_cast<Metric*>(find_or_create(values));
  }
  // The single series of a family without labels.
  Metric& get() { return with({}); }
  // Visits every existing series (e.g. to zero gauges whose label set went away).
  template <class F>
  void for_each(F&& f) {
    for_each_series([&](void* series) { f(*static_cast<Metric*>(series)); });
  }

 private:
  friend class MetricsRegistry;
  std::vector<double> bounds_;  // histograms only
  std::shared_ptr<void> make_series() const override;
  void render_series(std::string& out, const std::string& labels, const void* series) const override;
};

class MetricsRegistry {
 public:
  static constexpr std::size_t default_max_series = 512;

  MetricsRegistry();

  // Counter names must end in "_total" (Prometheus convention; promtool insists).
  Family<Counter>& counter(std::string name, std::string help, std::vector<std::string> label_names = {},
                           std::size_t max_series = default_max_series);
  Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> label_names = {},
                       std::size_t max_series = default_max_series);
  Family<Histogram>& histogram(std::string name, std::string help, std::vector<std::string> label_names,
                               std::vector<double> upper_bounds, std::size_t max_series = default_max_series);

  // Runs before every render(), on the rendering thread (e.g. to sample queue depths into gauges).
  // Must not call render().
  void on_collect(std::function<void()> hook);

  // The whole exposition, families in registration order, series ordered by label values.
  [[nodiscard]] std::string render();

  static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

 private:
  void add(std::unique_ptr<FamilyBase> family);
  std::mutex mutex_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
  std::vector<std::function<void()>> hooks_;
  Counter* overflows_ = nullptr;
};

// Text helpers, exposed for tests.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);
std::string format_sample_value(double v);  // shortest round-trip, "+Inf", "-Inf", "NaN"
bool is_valid_metric_name(std::string_view name);
bool is_valid_label_name(std::string_view name);

}  // namespace ami::monitor
