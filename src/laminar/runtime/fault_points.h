// Named points in the commit protocol where tests kill the process. Production cost: one
// relaxed load per point. Enabled by LAMINAR_FAULT_POINT=<name>[:<n>] (SIGKILL the process
// on the n-th time, default 1st, the point is reached) or, in-process, by a handler.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace laminar::runtime {

// Every point the coordinator and sinks declare, for tests that iterate over them.
const std::vector<std::string>& KnownFaultPoints();

// Called at each named step. Kills the process when the environment says so; runs the
// test handler (which may throw to simulate a crash) when one is installed.
void FaultPoint(const char* name);

// For in-process tests. Pass an empty function to remove it. Not thread-safe against
// concurrent FaultPoint calls: install before starting the pipeline.
void SetFaultHandler(std::function<void(const std::string&)> handler);

}  // namespace laminar::runtime
