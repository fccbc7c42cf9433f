import gc
import subprocess
import sys

CHECK = """
import gc
from babysit.heap import freeze_imports
before = gc.get_freeze_count()
freeze_imports()
frozen = gc.get_freeze_count()
leftovers = [[] for _ in range(1000)]
freeze_imports()
print(before, frozen, gc.get_freeze_count())
"""


def test_the_imported_objects_are_frozen_once_and_later_objects_stay_collectable():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True).stdout.split()
    before, frozen, again = map(int, out)
    assert before == 0 and frozen > 1000 and again == frozen
    assert gc.isenabled()
