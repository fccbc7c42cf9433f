"""Several callbacks acting as one: every hook is passed on, in order, to the members that
implement it, and their states are saved and restored under their own keys."""

import lightning.pytorch as pl

HOOKS = [name for name in dir(pl.Callback)
         if (name.startswith("on_") or name in ("setup", "teardown")) and callable(getattr(pl.Callback, name))]


class CallbackGroup(pl.Callback):
    def __init__(self, members: list[pl.Callback]):
        self.members = list(members)
        # the hooks run on every training step: look the overriding members up once
        self._targets = {hook: [getattr(m, hook) for m in self.members
                                if getattr(type(m), hook) is not getattr(pl.Callback, hook)]
                         for hook in HOOKS}

    def state_dict(self) -> dict:
        return {m.state_key: state for m in self.members if (state := m.state_dict())}

    def load_state_dict(self, state_dict: dict) -> None:
        for m in self.members:
            if m.state_key in state_dict:
                m.load_state_dict(state_dict[m.state_key])


def _pass_on(hook: str):
    def method(self, *args, **kwargs):
        for target in self._targets[hook]:
            target(*args, **kwargs)

    method.__name__ = method.__qualname__ = hook
    return method


for _hook in HOOKS:
    setattr(CallbackGroup, _hook, _pass_on(_hook))
