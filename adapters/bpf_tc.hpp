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
/// The id of the program the filter at kPriority/kHandle runs; nullopt when there is none.
/// (Netlink only: needs no more than CAP_NET_ADMIN.)
Result<std::optional<std::uint32_t>> attached_program_id(const std::string& dev, Hook hook);
/// The name of the program the filter at kPriority/kHandle runs; nullopt when there is none.
/// Reading another process's program needs CAP_SYS_ADMIN.
Result<std::optional<std::string>> attached_program(const std::string& dev, Hook hook);
/// The id of the program behind prog_fd (one's own program: CAP_BPF suffices).
Result<std::uint32_t> program_id_of(int prog_fd);
/// Attaches prog_fd (direct-action) at hook of dev, at kPriority/kHandle. A filter already
/// there is replaced only if it runs this program or, as far as its name can be read, one of
/// clatd's programs; otherwise this fails naming what is there.
Status attach(const std::string& dev, Hook hook, int prog_fd);
/// The undo of attach(): removes the filter while it runs the program o.program_id (or, in
/// older journals without one, a program named as clatd's).
Result<ApplyOutcome> remove_filter(const op::RemoveTcFilter& o);
/// The undo of create_clsact() when it created the qdisc.
Result<ApplyOutcome> remove_clsact(const op::RemoveClsact& o);

/// The undo operation for attaching program_id at hook of dev.
op::RemoveTcFilter filter_undo(const std::string& dev, Hook hook,
                               std::optional<std::uint32_t> program_id = std::nullopt);

}  // namespace clat::bpf_tc
