"""The one table of optimizer configurations that drives the parametrised tests."""

CASES = [
    ("sgd", {}),
    ("sgd", {"eta": 0.05, "regularization": "l2", "weight_decay": 0.1}),
    ("nag", {}),
    ("nag", {"eta": 0.02, "mu": 0.8, "regularization": "l1", "weight_decay": 0.01}),
    ("momentum", {}),
    ("momentum", {"eta": 0.03, "mu": 0.5, "regularization": "l2", "weight_decay": 0.05}),
    ("rmsprop", {}),
    ("rmsprop", {"eta": 0.01, "decay": 0.5, "eps": 1e-4, "regularization": "l1", "weight_decay": 0.02}),
    ("adam", {}),
    ("adam", {"eta": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "regularization": "l2",
              "weight_decay": 0.01}),
    ("adamw", {}),
    ("adamw", {"eta": 0.005, "decoupled_weight_decay": 0.1, "regularization": "l1", "weight_decay": 0.01}),
]


def case_id(case):
    name, hyperparameters = case
    return "-".join([name, *(f"{key}={value}" for key, value in hyperparameters.items())])
