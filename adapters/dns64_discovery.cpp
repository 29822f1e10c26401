#include "adapters/dns64_resolver.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

namespace clat {
namespace {

std::int64_t steady_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

Dns64Discovery::Dns64Discovery(boost::asio::io_context& io, std::unique_ptr<Dns64Resolver> resolver,
                               Publish publish, Dns64SchedulePolicy policy)
    : resolver_(std::move(resolver)), publish_(std::move(publish)), policy_(policy), timer_(io) {
    const std::string file = resolver_->followed_file();
    if (file.empty())
        return;
    auto watch = FileWatch::create(io, file, [this] { on_servers_maybe_changed(); });
    if (watch)
        watch_ = std::move(*watch);
    else
        spdlog::warn("dns64 cannot watch {} ({}): it is read again at each query only", file,
                     watch.error().message);
}

Dns64Discovery::~Dns64Discovery() {
    alive_.reset();
}

void Dns64Discovery::rediscover_now() {
    failures_ = 0;
    absent_ = 0;
    // Whoever asks (a new activation of the agent starts with no DNS64 verdict) hears the
    // next outcome even when it is the same as the last one published.
    published_.reset();
    ++epoch_;
    timer_.cancel();
    running_ = true;
    query();
}

void Dns64Discovery::stop() {
    running_ = false;
    ++epoch_;
    timer_.cancel();
    resolver_->cancel();
}

void Dns64Discovery::query() {
    std::optional<Ipv6Prefix> keep;
    if (current_.result)
        keep = current_.result->prefix;
    resolver_->query([this](const Dns64Outcome& outcome) { on_outcome(outcome); }, keep);
}

void Dns64Discovery::on_servers_maybe_changed() {
    // Stopped: the next rediscover_now() reads the file anyway.
    if (!running_ || !resolver_->reload())
        return;
    spdlog::info("dns64 servers changed; querying {} now", resolver_->label());
    // New servers owe us nothing of the old ones' back-off. The prefix held stays until the
    // new servers answer (or it expires): a DNS64 that moved keeps the CLAT up meanwhile.
    failures_ = 0;
    absent_ = 0;
    ++epoch_;
    timer_.cancel();
    query();
}

void Dns64Discovery::on_outcome(const Dns64Outcome& outcome) {
    const std::int64_t now = steady_now_ms();
    current_.last_kind = outcome.kind;
    current_.detail = outcome.detail;
    std::chrono::milliseconds delay{0};
    switch (outcome.kind) {
        case Dns64OutcomeKind::kFound:
            failures_ = absent_ = 0;
            current_.result = outcome.result;
            current_.expires_at_ms = now + dns64_hold_time(outcome.ttl_seconds, policy_).count();
            delay = dns64_next_query_delay(outcome.kind, outcome.ttl_seconds, 1, policy_);
            break;
        case Dns64OutcomeKind::kNoDns64:
            failures_ = 0;
            current_.result.reset();
            current_.expires_at_ms = 0;
            delay = dns64_next_query_delay(outcome.kind, 0, ++absent_, policy_);
            break;
        case Dns64OutcomeKind::kFailed:
            absent_ = 0;
            delay = dns64_next_query_delay(outcome.kind, 0, ++failures_, policy_);
            if (current_.result && now >= current_.expires_at_ms) {
                current_.result.reset();
                current_.expires_at_ms = 0;
            } else if (current_.result) {
                // Always try once more right at expiry, so a lapse is noticed on time.
                delay = std::min(delay, std::chrono::milliseconds(current_.expires_at_ms - now));
            }
            break;
    }
    schedule(delay);
    publish_if_changed();
}

void Dns64Discovery::schedule(std::chrono::milliseconds delay) {
    ++epoch_;
    timer_.expires_after(delay);
    timer_.async_wait(
        [this, alive = std::weak_ptr<bool>(alive_), epoch = epoch_](boost::system::error_code ec) {
            // A wait that had already completed when stop() or rediscover_now() ran still comes
            // here with success: the epoch tells it apart.
            if (ec || alive.expired() || epoch != epoch_)
                return;
            query();
        });
}

void Dns64Discovery::publish_if_changed() {
    // The detail is the agent's "why it waits": a server that stops timing out and starts
    // answering SERVFAIL must say so, though both are failures.
    if (published_ && published_->result == current_.result &&
        published_->expires_at_ms == current_.expires_at_ms &&
        published_->last_kind == current_.last_kind && published_->detail == current_.detail)
        return;
    published_ = current_;
    if (publish_)
        publish_(current_);  // last: it may destroy this object
}

}  // namespace clat
