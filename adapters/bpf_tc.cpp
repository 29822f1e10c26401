#include "adapters/bpf_tc.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "adapters/bpf/clat_bpf.h"

namespace clat::bpf_tc {
namespace {

Error errno_error(const std::string& what, int negative_errno) {
    return make_error(what + ": " + std::strerror(-negative_errno));
}

bpf_tc_hook make_hook(int ifindex, bpf_tc_attach_point point) {
    bpf_tc_hook hook{};
    hook.sz = sizeof(hook);
    hook.ifindex = ifindex;
    hook.attach_point = point;
    return hook;
}

bpf_tc_attach_point point_of(Hook hook) {
    return hook == Hook::kIngress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}

bool is_ours(const std::string& name) {
    return name == CLAT_EGRESS_PROG || name == CLAT_INGRESS_PROG;
}

Result<std::string> program_name(std::uint32_t id) {
    const int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0)
        return errno_error("program " + std::to_string(id), -errno);
    bpf_prog_info info{};
    std::uint32_t length = sizeof(info);
    const int rc = bpf_obj_get_info_by_fd(fd, &info, &length);
    const int saved = errno;
    close(fd);
    if (rc != 0)
        return errno_error("program " + std::to_string(id), -saved);
    return std::string(info.name);
}

}  // namespace

std::string hook_name(Hook hook) {
    return hook == Hook::kIngress ? "ingress" : "egress";
}

op::RemoveTcFilter filter_undo(const std::string& dev, Hook hook,
                               std::optional<std::uint32_t> program_id) {
    return op::RemoveTcFilter{dev, hook_name(hook), kPriority, kHandle, program_id};
}

Result<std::uint32_t> program_id_of(int prog_fd) {
    bpf_prog_info info{};
    std::uint32_t length = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &length) != 0)
        return errno_error("program fd " + std::to_string(prog_fd), -errno);
    return info.id;
}

Result<ApplyOutcome> create_clsact(const std::string& dev) {
    const int ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
    if (ifindex == 0)
        return make_error("clsact on " + dev + ": no such device");
    bpf_tc_hook hook = make_hook(ifindex, BPF_TC_INGRESS);
    const int rc = bpf_tc_hook_create(&hook);
    if (rc == -EEXIST)
        return ApplyOutcome::kAlreadyInPlace;
    if (rc != 0)
        return errno_error("clsact on " + dev, rc);
    return ApplyOutcome::kApplied;
}

Result<std::optional<std::uint32_t>> attached_program_id(const std::string& dev, Hook hook) {
    const int ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
    if (ifindex == 0)
        return std::optional<std::uint32_t>();
    bpf_tc_hook h = make_hook(ifindex, point_of(hook));
    bpf_tc_opts opts{};
    opts.sz = sizeof(opts);
    opts.handle = kHandle;
    opts.priority = kPriority;
    const int rc = bpf_tc_query(&h, &opts);
    // No qdisc or no filter at our place: nothing is attached there.
    if (rc == -ENOENT || rc == -EINVAL)
        return std::optional<std::uint32_t>();
    if (rc != 0)
        return errno_error("tc filter " + hook_name(hook) + " on " + dev, rc);
    return std::optional<std::uint32_t>(opts.prog_id);
}

Result<std::optional<std::string>> attached_program(const std::string& dev, Hook hook) {
    auto id = attached_program_id(dev, hook);
    if (!id)
        return id.error();
    if (!*id)
        return std::optional<std::string>();
    auto name = program_name(**id);
    if (!name)
        return name.error();
    return std::optional<std::string>(*name);
}

Status attach(const std::string& dev, Hook hook, int prog_fd) {
    const std::string what = "tc filter " + hook_name(hook) + " on " + dev;
    auto own = program_id_of(prog_fd);
    if (!own)
        return own.error();
    auto present = attached_program_id(dev, hook);
    if (!present)
        return present.error();
    if (*present && **present != *own) {
        // Someone's program sits at clatd's place. It is replaced only when it is one of
        // clatd's (an older instance's); a program whose name cannot be read is foreign.
        auto name = program_name(**present);
        if (!name || !is_ours(*name))
            return make_error(what + ": priority " + std::to_string(kPriority) +
                              " already holds a foreign program (id " + std::to_string(**present) +
                              (name ? " '" + *name + "'" : ", " + name.error().message) + ")");
    }
    const int ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
    if (ifindex == 0)
        return make_error(what + ": no such device");
    bpf_tc_hook h = make_hook(ifindex, point_of(hook));
    bpf_tc_opts opts{};
    opts.sz = sizeof(opts);
    opts.prog_fd = prog_fd;
    opts.handle = kHandle;
    opts.priority = kPriority;
    opts.flags = *present ? BPF_TC_F_REPLACE : 0;
    const int rc = bpf_tc_attach(&h, &opts);
    if (rc == -EEXIST)  // a filter that runs no eBPF program (classic BPF, u32, ...)
        return make_error(what + ": priority " + std::to_string(kPriority) + " handle " +
                          std::to_string(kHandle) + " already holds a foreign filter");
    if (rc != 0)
        return errno_error(what, rc);
    return Ok{};
}

Result<ApplyOutcome> remove_filter(const op::RemoveTcFilter& o) {
    const Hook hook = o.hook == "ingress" ? Hook::kIngress : Hook::kEgress;
    if (o.hook != "ingress" && o.hook != "egress")
        return make_error("unknown tc hook '" + o.hook + "'");
    if (o.priority != kPriority || o.handle != kHandle)
        return make_error("tc filter at priority " + std::to_string(o.priority) +
                          " is not where clatd attaches");
    auto present = attached_program_id(o.dev, hook);
    if (!present)
        return present.error();
    if (!*present)
        return ApplyOutcome::kAlreadyInPlace;  // gone
    if (o.program_id) {
        if (**present != *o.program_id)
            return ApplyOutcome::kAlreadyInPlace;  // someone else's program now
    } else {
        auto name = program_name(**present);
        if (!name)
            return name.error();
        if (!is_ours(*name))
            return ApplyOutcome::kAlreadyInPlace;
    }
    const int ifindex = static_cast<int>(if_nametoindex(o.dev.c_str()));
    if (ifindex == 0)
        return ApplyOutcome::kAlreadyInPlace;
    bpf_tc_hook h = make_hook(ifindex, point_of(hook));
    bpf_tc_opts opts{};
    opts.sz = sizeof(opts);
    opts.handle = kHandle;
    opts.priority = kPriority;
    const int rc = bpf_tc_detach(&h, &opts);
    if (rc == -ENOENT)
        return ApplyOutcome::kAlreadyInPlace;
    if (rc != 0)
        return errno_error("tc filter " + o.hook + " on " + o.dev, rc);
    return ApplyOutcome::kApplied;
}

Result<ApplyOutcome> remove_clsact(const op::RemoveClsact& o) {
    const int ifindex = static_cast<int>(if_nametoindex(o.dev.c_str()));
    if (ifindex == 0)
        return ApplyOutcome::kAlreadyInPlace;
    bpf_tc_hook h =
        make_hook(ifindex, static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
    const int rc = bpf_tc_hook_destroy(&h);
    if (rc == -ENOENT || rc == -EINVAL)
        return ApplyOutcome::kAlreadyInPlace;
    if (rc != 0)
        return errno_error("clsact on " + o.dev, rc);
    return ApplyOutcome::kApplied;
}

}  // namespace clat::bpf_tc
