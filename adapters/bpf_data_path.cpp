#include "adapters/bpf_data_path.hpp"

#include <net/if.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <utility>

namespace clat {
namespace {

int ifindex_of(const std::string& dev) {
    return static_cast<int>(if_nametoindex(dev.c_str()));
}

DataPathCounters to_port(const BpfCounters& c) {
    DataPathCounters out;
    out.egress_packets = c.egress_packets;
    out.egress_bytes = c.egress_bytes;
    out.ingress_packets = c.ingress_packets;
    out.ingress_bytes = c.ingress_bytes;
    out.slow_path = c.left;
    out.dropped = c.dropped;
    return out;
}

}  // namespace

BpfDataPath::BpfDataPath(boost::asio::io_context& io, DataPathPort& slow_path)
    : io_(io), slow_(slow_path) {}

BpfDataPath::~BpfDataPath() {
    *alive_ = false;
}

void BpfDataPath::subscribe(EventSink sink) {
    sink_ = sink;
    slow_.subscribe(std::move(sink));
}

void BpfDataPath::configure(const Config& config) {
    config_ = config;
    slow_.configure(config);
    if (config_.data_path == DataPathMode::kTayga || programs_ || !load_error_.empty())
        return;
    auto loaded = BpfPrograms::load();
    if (!loaded) {
        // Once: without CAP_BPF (or on a kernel without what the programs need) every later
        // attempt would fail the same way.
        load_error_ = loaded.error().message;
        spdlog::warn("data path: eBPF programs not loaded ({}); {}", load_error_,
                     config_.data_path == DataPathMode::kBpf ? "data-path=bpf cannot start"
                                                             : "TAYGA carries every packet");
        return;
    }
    programs_ = std::move(*loaded);
    spdlog::info("data path: eBPF programs loaded");
}

Status BpfDataPath::ensure_hook(std::optional<HookState>& state, const std::string& dev,
                                bpf_tc::Hook hook) {
    const int ifindex = ifindex_of(dev);
    if (ifindex == 0)
        return make_error("eBPF " + bpf_tc::hook_name(hook) + " hook: no device " + dev);
    if (state && (state->dev != dev || state->ifindex != ifindex))
        release(state, hook);  // another device, or this one made again: start afresh
    if (!state)
        state = HookState{dev, ifindex, std::nullopt, std::nullopt};
    if (!state->clsact_seq) {
        // Recorded before it is made; a clsact that was there already is someone else's (or
        // pre-existing) and stays when clatd goes.
        auto seq = journal_->record(op::RemoveClsact{dev});
        if (!seq)
            return seq.error();
        auto created = bpf_tc::create_clsact(dev);
        if (!created || *created == ApplyOutcome::kAlreadyInPlace) {
            (void)journal_->forget(*seq);
            if (!created)
                return created.error();
        } else {
            state->clsact_seq = *seq;
        }
    }
    const int fd = programs_->program_fd(hook);
    auto own = bpf_tc::program_id_of(fd);
    if (!own)
        return own.error();
    auto current = bpf_tc::attached_program_id(dev, hook);
    if (!current)
        return current.error();
    if (*current == *own && state->filter_seq)
        return Ok{};
    if (!state->filter_seq) {
        auto seq = journal_->record(bpf_tc::filter_undo(dev, hook, *own));
        if (!seq)
            return seq.error();
        state->filter_seq = *seq;
    }
    if (auto attached = bpf_tc::attach(dev, hook, fd); !attached) {
        (void)journal_->forget(*state->filter_seq);
        state->filter_seq.reset();
        return attached;
    }
    return Ok{};
}

void BpfDataPath::release(std::optional<HookState>& state, bpf_tc::Hook hook) {
    if (!state)
        return;
    if (state->filter_seq) {
        auto own = bpf_tc::program_id_of(programs_->program_fd(hook));
        auto removed = bpf_tc::remove_filter(bpf_tc::filter_undo(state->dev, hook, own ? *own : 0));
        if (removed)
            (void)journal_->forget(*state->filter_seq);
        else
            spdlog::warn("data path: {}", removed.error().message);  // the journal keeps it
    }
    if (state->clsact_seq) {
        auto removed = bpf_tc::remove_clsact(op::RemoveClsact{state->dev});
        if (removed)
            (void)journal_->forget(*state->clsact_seq);
        else
            spdlog::warn("data path: {}", removed.error().message);
    }
    state.reset();
}

void BpfDataPath::detach_all() {
    if (programs_)
        programs_->disable();
    release(ingress_, bpf_tc::Hook::kIngress);
    release(egress_, bpf_tc::Hook::kEgress);
    active_ = false;
}

Status BpfDataPath::attach(const DataPathMapping& mapping) {
    if (!programs_)
        return make_error(load_error_.empty() ? "eBPF programs not loaded" : load_error_);
    if (journal_ == nullptr)
        return make_error("eBPF data path: no journal to record its hooks in");
    if (mapping.plat_dev.empty())
        return make_error("eBPF data path: no uplink");
    BpfTranslation translation{mapping.plat_prefix,   mapping.clat_v6,  config_.clat_v4_addr,
                               config_.tayga_v4_addr, config_.clat_dev, mapping.plat_dev};
    // The configuration first: a hook attached before it would run with the old one (or
    // none), which only sends packets to TAYGA, never mistranslates them.
    if (auto configured = programs_->configure(translation); !configured)
        return configured;
    if (auto hooked = ensure_hook(egress_, config_.clat_dev, bpf_tc::Hook::kEgress); !hooked)
        return hooked;
    if (auto hooked = ensure_hook(ingress_, mapping.plat_dev, bpf_tc::Hook::kIngress); !hooked)
        return hooked;
    return Ok{};
}

void BpfDataPath::fail(const std::string& reason) {
    boost::asio::post(io_, [this, reason, alive = alive_] {
        if (*alive && sink_)
            sink_(event::DataPathExited{0, "eBPF: " + reason});
    });
}

void BpfDataPath::run_slow_path(const DataPathMapping& mapping, bool replacing) {
    if (replacing)
        slow_.replace(mapping);
    else
        slow_.start(mapping);
}

void BpfDataPath::start(const DataPathMapping& mapping) {
    replace_or_start(mapping, false);
}

void BpfDataPath::replace(const DataPathMapping& mapping) {
    replace_or_start(mapping, true);
}

void BpfDataPath::replace_or_start(const DataPathMapping& mapping, bool replacing) {
    if (config_.data_path == DataPathMode::kTayga) {
        if (active_)
            spdlog::info("data path: eBPF detached (data-path=tayga)");
        detach_all();
        reason_.clear();
        run_slow_path(mapping, replacing);
        return;
    }
    const bool was_active = active_;
    if (auto attached = attach(mapping); !attached) {
        const std::string reason = attached.error().message;
        detach_all();
        if (reason != reason_)
            spdlog::warn("data path: eBPF not in use: {}", reason);
        reason_ = reason;
        if (config_.data_path == DataPathMode::kBpf) {
            // TAYGA alone is not what was asked for: the data path has failed, and the
            // machine retries it with its back-off.
            slow_.stop();
            fail(reason);
            return;
        }
        run_slow_path(mapping, replacing);
        return;
    }
    active_ = true;
    reason_.clear();
    if (!was_active)
        spdlog::info("data path: eBPF attached clat-dev={} egress, {} ingress; {}",
                     config_.clat_dev, mapping.plat_dev, mapping.to_string());
    run_slow_path(mapping, replacing);
}

void BpfDataPath::stop() {
    if (active_ && programs_)
        spdlog::info("data path: eBPF detached {}", to_string(programs_->counters()));
    detach_all();
    slow_.stop();
}

DataPathInfo BpfDataPath::info() const {
    DataPathInfo info = slow_.info();
    info.backend = active_ ? "bpf" : "tayga";
    info.reason = config_.data_path == DataPathMode::kTayga
                      ? std::string()
                      : (!reason_.empty() ? reason_ : load_error_);
    info.follows_uplink_mtu = programs_ != nullptr && config_.data_path != DataPathMode::kTayga;
    return info;
}

std::optional<DataPathCounters> BpfDataPath::counters() const {
    if (!programs_ || !active_)
        return std::nullopt;
    return to_port(programs_->counters());
}

}  // namespace clat
