from babysit.models.fc3 import FC3
from babysit.models.lenet5 import LeNet5

__all__ = ["FC3", "LeNet5"]
