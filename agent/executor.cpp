#include "agent/executor.hpp"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

namespace clat {
namespace {}  // namespace

Executor::Executor(KernelPort& kernel, UndoJournal journal)
    : kernel_(kernel), journal_(std::move(journal)) {}

Status Executor::apply(const Plan& plan) {
    const auto savepoint = journal_.savepoint();
    in_place_.clear();
    for (std::size_t i = 0; i < plan.size(); ++i) {
        auto applied = apply_one(plan[i]);
        if (applied)
            continue;
        spdlog::warn("apply failed op=\"{}\" step={}/{} error=\"{}\", rolling back",
                     to_string(plan[i]), i + 1, plan.size(), applied.error().message);
        if (auto rolled_back = journal_.rollback_to(savepoint, kernel_); !rolled_back) {
            spdlog::error("rollback incomplete journal={} error=\"{}\"", journal_.path(),
                          rolled_back.error().message);
        }
        return applied;
    }
    return Ok{};
}

Status Executor::apply_one(const Operation& op) {
    const auto text = to_string(op);
    auto inverse = static_inverse(op);
    if (const auto* sysctl = std::get_if<op::SetSysctl>(&op)) {
        auto current = kernel_.read_sysctl(sysctl->path);
        if (!current)
            return current.error();
        auto old_value = normalise_sysctl_value(*current);
        if (old_value == normalise_sysctl_value(sysctl->value)) {
            spdlog::debug("in place {}", text);
            in_place_.push_back(op);
            return Ok{};
        }
        // Restore the old value only while the sysctl still holds ours: if an administrator
        // or another daemon changed it since, their value wins.
        std::optional<std::uint32_t> ifindex;
        if (const auto dev = sysctl_path_device(sysctl->path); !dev.empty()) {
            // Undo goes to this device under whatever name it has then (renames happen).
            auto index = kernel_.link_index(dev);
            if (!index)
                return index.error();
            ifindex = *index;
        }
        inverse = op::SetSysctl{sysctl->path, std::move(old_value), sysctl->value, ifindex};
    }
    Operation change = op;
    if (const auto* foreign = std::get_if<op::RemoveForeignRouteV4>(&op)) {
        // A foreign route is saved whole, as the kernel holds it, and restored from those
        // bytes: rebuilt from the observed fact it would lose onlink, src, initcwnd, all
        // nexthops but the first, or its nexthop object. The delete names the saved route,
        // so what is removed is exactly what the journal can put back.
        auto saved = kernel_.save_route(*foreign);
        if (!saved)
            return saved.error();
        if (saved->empty()) {
            spdlog::debug("in place {} (already gone)", text);
            in_place_.push_back(op);
            return Ok{};
        }
        inverse = op::RestoreRoute{*saved};
        change = op::RemoveForeignRouteV4{foreign->dev, foreign->route, std::move(*saved)};
    }
    if (const auto* proxy = std::get_if<op::AddProxyNeighbour>(&op)) {
        // The entry is removed from this device under whatever name it has then.
        auto index = kernel_.link_index(proxy->dev);
        if (!index)
            return index.error();
        inverse = op::RemoveProxyNeighbour{proxy->dev, proxy->address, *index};
    }
    if (inverse && std::holds_alternative<op::AddFirewallAccept>(op)) {
        // Rules put back after a flush behind clatd's back: the pending undo removes them by
        // value and mark already, so the journal does not grow with every flush.
        const auto& pending = journal_.pending();
        if (std::any_of(pending.begin(), pending.end(),
                        [&](const UndoEntry& e) { return e.undo == *inverse; }))
            inverse.reset();
    }
    std::optional<std::uint64_t> seq;
    if (inverse) {
        // Write-ahead: the undo is durable before the change exists.
        auto recorded = journal_.record(*inverse);
        if (!recorded)
            return recorded.error();
        seq = *recorded;
    }
    auto outcome = kernel_.apply(change);
    if (outcome && *outcome == ApplyOutcome::kApplied) {
        spdlog::info("apply {}", text);
        return Ok{};
    }
    // Already in place: the object pre-existed and is not ours to remove. Failed: a netlink
    // request or sysctl write either happens or not, so nothing changed. Either way the undo
    // must never run. A crash between the apply and this cancel is the one window in which a
    // pre-existing object could be reverted after a restart.
    Status cancelled = seq ? journal_.cancel(*seq) : Status(Ok{});
    if (!outcome) {
        if (!cancelled)
            spdlog::warn("journal error=\"{}\"", cancelled.error().message);
        return outcome.error();
    }
    spdlog::debug("in place {}", text);
    in_place_.push_back(op);
    return cancelled;
}

Status Executor::undo_all() {
    if (!journal_.pending().empty())
        spdlog::info("teardown journal={} pending={}", journal_.path(), journal_.pending().size());
    return journal_.replay_all(kernel_);
}

Status Executor::recover() {
    for (const auto& problem : journal_.load_problems())
        spdlog::warn("journal problem: {}", problem);
    if (!journal_.pending().empty()) {
        spdlog::info("recover journal={} pending={} (left by a previous instance)", journal_.path(),
                     journal_.pending().size());
    }
    return journal_.replay_all(kernel_);
}

}  // namespace clat
