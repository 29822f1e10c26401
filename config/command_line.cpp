#include "config/builder.hpp"
#include "config/load.hpp"
#include "config/values.hpp"

namespace clat::config {
namespace {

std::string place(std::string_view message) {
    return std::string(kCommandLinePlace) + ": " + std::string(message);
}

// Applies one argument starting with a single '-': bundled -q/-d/-h and -c FILE (or -cFILE).
Status parse_short_options(std::string_view arg, int argc, const char* const* argv, int& i,
                           CommandLine& cli) {
    for (std::size_t j = 1; j < arg.size(); ++j) {
        switch (arg[j]) {
            case 'q':
                ++cli.quiet;
                break;
            case 'd':
                ++cli.debug;
                break;
            case 'h':
                cli.help = true;
                break;
            case 'c':
                if (j + 1 < arg.size()) {
                    cli.config_file = std::string(arg.substr(j + 1));
                } else if (i + 1 < argc) {
                    cli.config_file = argv[++i];
                } else {
                    return make_error(place("option '-c' needs a file name"));
                }
                if (cli.config_file.empty())
                    return make_error(place("option '-c' needs a file name"));
                return Ok{};
            default:
                return make_error(place("unknown option '-" + std::string(1, arg[j]) + "'"));
        }
    }
    return Ok{};
}

Status parse_long_option(std::string_view arg, CommandLine& cli) {
    if (arg == "--help")
        cli.help = true;
    else if (arg == "--version")
        cli.version = true;
    else if (arg == "--check-config")
        cli.check_config = true;
    else
        return make_error(place("unknown option '" + std::string(arg) + "'"));
    return Ok{};
}

Status parse_setting(std::string_view arg, CommandLine& cli) {
    const auto eq = arg.find('=');
    if (eq == std::string_view::npos)
        return make_error(place("unexpected argument '" + std::string(arg) +
                                "' (settings are written key=value)"));
    // Blanks around the key and the value are ignored, as they are in both file formats.
    const auto key = trim(arg.substr(0, eq));
    if (!is_known_key(key))
        return make_error(place("unknown key '" + std::string(key) + "'"));
    cli.overrides.emplace_back(std::string(key), std::string(trim(arg.substr(eq + 1))));
    return Ok{};
}

}  // namespace

Result<CommandLine> parse_command_line(int argc, const char* const* argv) {
    CommandLine cli;
    bool options_done = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        Status s = Ok{};
        if (!options_done && arg == "--")
            options_done = true;
        else if (!options_done && arg.starts_with("--"))
            s = parse_long_option(arg, cli);
        else if (!options_done && arg.size() > 1 && arg[0] == '-')
            s = parse_short_options(arg, argc, argv, i, cli);
        else
            s = parse_setting(arg, cli);
        if (!s)
            return s.error();
    }
    return cli;
}

std::string usage_text() {
    return "Usage: clatd [-q] [-d] [-c FILE] [-h|--help] [--version] [--check-config] "
           "[key=value ...]\n"
           "\n"
           "  -q              quiet: suppress normal output (repeat to suppress warnings too)\n"
           "  -d              debugging output (repeat for more)\n"
           "  -c FILE         read FILE instead of " +
           std::string(kDefaultConfigPath) +
           "\n"
           "  -h, --help      print this help and exit\n"
           "  --version       print the version and exit\n"
           "  --check-config  validate the configuration, print the effective settings, exit\n"
           "  key=value       set a configuration key, overriding the configuration file\n"
           "\n"
           "See clatd(8) and clatd.conf(5).\n";
}

}  // namespace clat::config
