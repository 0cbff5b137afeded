"""Computational-graph nodes of seed 003: the smallest pieces of backprop, one scalar at a time."""


class MulLayer:
    """out = x · y ; backward sends dout·y to x and dout·x to y."""

    def __init__(self) -> None:
        self.x = 0.0
        self.y = 0.0

    def forward(self, x: float, y: float) -> float:
        self.x = x
        self.y = y
        return x * y

    def backward(self, dout: float) -> tuple[float, float]:
        return dout * self.y, dout * self.x


class AddLayer:
    """out = x + y ; backward passes dout unchanged to both inputs."""

    def forward(self, x: float, y: float) -> float:
        return x + y

    def backward(self, dout: float) -> tuple[float, float]:
        return dout, dout
