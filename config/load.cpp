#include "config/load.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "config/builder.hpp"
#include "config/file_format.hpp"

namespace clat::config {
namespace {

// A configuration file is a few kilobytes; the cap keeps -c /dev/zero from eating memory.
constexpr std::size_t kMaxFileSize = 1 << 20;

Error read_error(std::string_view path, int error) {
    return make_error(std::string(path) +
                      ": cannot read: " + std::generic_category().message(error));
}

Result<std::string> read_file(std::string_view path) {
    const std::string p(path);
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return read_error(path, errno);
    std::string text;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int error = errno;
            ::close(fd);
            return read_error(path, error);
        }
        if (n == 0)
            break;
        text.append(buffer, static_cast<std::size_t>(n));
        if (text.size() > kMaxFileSize) {
            ::close(fd);
            return make_error(p + ": cannot read: larger than 1 MiB");
        }
    }
    ::close(fd);
    return text;
}

// The command line wins over the file: its tayga-extra lines replace the file's, its other
// keys override, and -q/-d add to quiet/debug.
Status apply_command_line(const CommandLine& cli, ConfigBuilder& builder) {
    const bool has_extra = std::any_of(cli.overrides.begin(), cli.overrides.end(),
                                       [](const auto& kv) { return kv.first == "tayga-extra"; });
    if (has_extra)
        builder.clear_tayga_extra();
    for (const auto& [key, value] : cli.overrides)
        if (auto s = builder.set(key, value, kCommandLinePlace); !s)
            return s;
    builder.add_verbosity(cli.quiet, cli.debug);
    return Ok{};
}

Result<LoadedConfig> build(const std::vector<RawSetting>& settings, const CommandLine& cli) {
    LoadedConfig out;
    ConfigBuilder builder;
    for (const auto& s : settings) {
        if (!is_known_key(s.key)) {
            out.warnings.push_back(s.place + ": unknown key '" + s.key + "' ignored");
            continue;
        }
        if (auto st = builder.set(s.key, s.value, s.place); !st)
            return st.error();
    }
    if (auto st = apply_command_line(cli, builder); !st)
        return st.error();
    auto config = builder.finish();
    if (!config)
        return config.error();
    out.config = std::move(*config);
    return out;
}

}  // namespace

Result<LoadedConfig> parse_config_text(std::string_view text, std::string_view source_name,
                                       const CommandLine& cli) {
    auto settings = parse_config_file(text, source_name);
    if (!settings)
        return settings.error();
    auto loaded = build(*settings, cli);
    if (loaded)
        loaded->source = std::string(source_name);
    return loaded;
}

Result<LoadedConfig> load_config(const CommandLine& cli, std::string_view default_path) {
    std::string path = cli.config_file;
    if (path.empty()) {
        struct stat st {};
        const std::string p(default_path);
        if (::stat(p.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR))
            return build({}, cli);
        path = p;
    }
    auto text = read_file(path);
    if (!text)
        return text.error();
    return parse_config_text(*text, path, cli);
}

}  // namespace clat::config
