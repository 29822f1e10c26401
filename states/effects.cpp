#include "states/effects.hpp"

namespace clat {

namespace {

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace

std::string_view to_string(Timer timer) {
    switch (timer) {
        case Timer::HoldDown:
            return "hold-down";
        case Timer::ProvisionRetry:
            return "provision-retry";
        case Timer::TranslatorRestart:
            return "translator-restart";
    }
    return "unknown";
}

std::string duration_text(std::int64_t ms) {
    if (ms % 1000 == 0)
        return std::to_string(ms / 1000) + " s";
    return std::to_string(ms) + " ms";
}

std::string to_string(const Effect& effect) {
    return std::visit(
        Overloaded{
            [](const effect::StartTimer& e) {
                return "start-timer timer=" + std::string(to_string(e.timer)) +
                       " delay=" + duration_text(e.delay_ms);
            },
            [](const effect::CancelTimer& e) {
                return "cancel-timer timer=" + std::string(to_string(e.timer));
            },
            [](const effect::StartDiscovery&) { return std::string("start-discovery"); },
            [](const effect::StopDiscovery&) { return std::string("stop-discovery"); },
            [](const effect::Provision& e) {
                return "provision plat=" + e.plat.prefix.to_string() +
                       " source=" + std::string(to_string(e.plat.source));
            },
            [](const effect::Reconcile& e) {
                return "reconcile plat=" + e.plat.prefix.to_string() +
                       " source=" + std::string(to_string(e.plat.source));
            },
            [](const effect::StartTranslator&) { return std::string("start-translator"); },
            [](const effect::Teardown&) { return std::string("teardown"); },
            [](const effect::Exit& e) { return "exit code=" + std::to_string(e.code); },
            [](const effect::PublishStatus&) { return std::string("publish-status"); },
        },
        effect);
}

}  // namespace clat
