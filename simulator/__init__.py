"""A simulated hybrid-AI fleet that sends OpenTelemetry traces like the real thing.

``tierwatch simulate`` drives it: devices, edge nodes and cloud nodes, each an
OpenTelemetry SDK pipeline, record the attempts a router makes for each
request, with model rollouts and the degradations a scenario file schedules.

The steps, in the order data flows: :mod:`simulator.catalog` (what the fleet is
made of), :mod:`simulator.scenario` (what the run is told), :mod:`simulator.fleet`
(devices and their state), :mod:`simulator.router` (what happens to a request),
:mod:`simulator.senders` (spans through the SDK and exporters) and
:mod:`simulator.run` (the clock).
"""
