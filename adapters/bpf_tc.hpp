#pragma once
/// tc clsact hooks for the eBPF data path, through libbpf's bpf_tc_* API (libbpf 1.1 has no
/// tcx attach). clatd's filters sit at one fixed priority and handle (0xc1a7) and run a
/// program named clat_egress or clat_ingress; a filter or a clsact qdisc of anyone else is
/// never replaced or removed.

#include <cstdint>
#include <optional>
#include <string>

#include "states/operation.hpp"
#include "states/result.hpp"

namespace clat::bpf_tc {

inline constexpr std::uint32_t kPriority = 0xc1a7;
inline constexpr std::uint32_t kHandle = 0xc1a7;

enum class Hook { kIngress, kEgress };
std::string hook_name(Hook hook);

/// Creates dev's clsact qdisc; kAlreadyInPlace when dev already has one (whose ever it is).
Result<ApplyOutcome> create_clsact(const std::string& dev);
/// Attaches prog_fd (direct-action) at hook of dev, at kPriority/kHandle. A filter already
/// there is replaced only if it runs one of clatd's programs; otherwise this fails.
Status attach(const std::string& dev, Hook hook, int prog_fd);
/// The name of the program the filter at kPriority/kHandle runs; nullopt when there is none.
Result<std::optional<std::string>> attached_program(const std::string& dev, Hook hook);
/// The undo of attach(): removes the filter if it runs one of clatd's programs.
Result<ApplyOutcome> remove_filter(const op::RemoveTcFilter& o);
/// The undo of create_clsact() when it created the qdisc.
Result<ApplyOutcome> remove_clsact(const op::RemoveClsact& o);

/// The undo operation for attach(dev, hook, ...).
op::RemoveTcFilter filter_undo(const std::string& dev, Hook hook);

}  // namespace clat::bpf_tc
