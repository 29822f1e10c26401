// clat_bench: the measuring half of scripts/bench, run inside the test bed's host namespace.
//   clat_bench now                          prints the steady clock in µs
//   clat_bench stamp-exec FILE PROG ARGS... writes the steady clock to FILE, then execs PROG
//   clat_bench events --log FILE [...]      netlink event → reconcile done (figure 1)
//   clat_bench probe [...]                  first IPv4 answer through the CLAT (figures 2, 3)
//   clat_bench storm --kind K [...]         a storm of unrelated route or address events with
//                                           one relevant change among them (figure 5)
// Results are printed as `key=value` lines for the script to collect.

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <string>

#include "tests/bench/bench_util.hpp"

namespace {

int stamp_exec(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: clat_bench stamp-exec FILE PROG ARGS...\n");
        return 2;
    }
    std::ofstream(argv[0]) << clat::test::steady_us() << "\n";
    ::execv(argv[1], argv + 1);
    std::fprintf(stderr, "clat_bench: cannot exec %s: %s\n", argv[1], std::strerror(errno));
    return 127;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: clat_bench now|stamp-exec|events|probe|storm [options]\n");
        return 2;
    }
    const std::string command = argv[1];
    try {
        if (command == "now") {
            std::printf("%lld\n", static_cast<long long>(clat::test::steady_us()));
            return 0;
        }
        if (command == "stamp-exec")
            return stamp_exec(argc - 2, argv + 2);
        const clat::test::Options options(argc - 2, argv + 2);
        if (command == "events")
            return clat::test::run_events(options);
        if (command == "probe")
            return clat::test::run_probe(options);
        if (command == "storm")
            return clat::test::run_storm(options);
        std::fprintf(stderr, "clat_bench: unknown command %s\n", command.c_str());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "clat_bench %s: %s\n", command.c_str(), e.what());
        return 1;
    }
}
