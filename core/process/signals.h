#pragma once
// Termination signals for graceful shutdown.
//
// Call BlockTerminationSignals() first thing in main(), before any thread starts, so every thread
// inherits the blocked mask; then WaitForTerminationSignal() on the main thread returns the signal
// (SIGTERM or SIGINT) once one arrives, and the caller shuts the servers down in order.

namespace core {

void BlockTerminationSignals();
// Blocks until SIGTERM or SIGINT; returns the signal number.
int WaitForTerminationSignal();

}  // namespace core
