"""Where images come from. Each source returns `Images`: float tensors in [0, 1]."""

from babysit.data.sources.base import Images
from babysit.data.sources.cifar import cifar
from babysit.data.sources.fddb import fddb
from babysit.data.sources.folder import image_folder
from babysit.data.sources.mnist import mnist
from babysit.data.sources.packaged import digits, faces

__all__ = ["Images", "cifar", "digits", "faces", "fddb", "image_folder", "mnist"]
