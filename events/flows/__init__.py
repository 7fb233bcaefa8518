"""The graph engine: the flow graph BPMN models and state machines compile to, their compilers,
the pure walker rules, and the `Program` protocol every engine implements."""
