from babysit.models.cifar_resnet import CifarResNet
from babysit.models.fc3 import FC3
from babysit.models.lenet5 import LeNet5
from babysit.models.torchvision_resnet import torchvision_resnet
from babysit.models.vgg_small import VGGSmall

__all__ = ["FC3", "CifarResNet", "LeNet5", "VGGSmall", "torchvision_resnet"]
