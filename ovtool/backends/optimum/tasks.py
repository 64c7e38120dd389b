"""The tasks optimum-intel's OpenVINO exporter supports, read from optimum's TasksManager."""

from __future__ import annotations


def supported_tasks() -> list[str]:
    """One line per task: `task<TAB>libraries<TAB>model types` (tab-separated, sorted by task).

    Importing optimum.exporters.openvino.model_configs registers the OpenVINO export configs in
    TasksManager; diffusers pipelines are exported per task, not per model type.
    """
    import optimum.exporters.openvino.model_configs  # noqa: F401  (registers the "openvino" exporter)
    from optimum.exporters.tasks import TasksManager

    found: dict[str, tuple[set[str], set[str]]] = {}
    for library, model_types in TasksManager._LIBRARY_TO_SUPPORTED_MODEL_TYPES.items():
        for model_type, exporters in model_types.items():
            for task in exporters.get("openvino", {}):
                libraries, types = found.setdefault(task, (set(), set()))
                libraries.add(library)
                types.add(model_type)
    for task in getattr(TasksManager, "_DIFFUSERS_TASKS_TO_MODEL_LOADERS", {}):
        found.setdefault(task, (set(), set()))[0].add("diffusers")
    return [f"{task}\t{','.join(sorted(libs))}\t{f'{len(types)} model types' if types else 'pipelines'}"
            for task, (libs, types) in sorted(found.items())]
