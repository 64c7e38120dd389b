"""`ovtool dataset <verb>`: one subcommand per verb, each a table of flags onto the `dataset:` section.

Every dataset flag is declared once below; a verb lists the ones it takes. PATH is the first
argument here, so the recipe comes with -r/--recipe (which every command accepts).
"""

from __future__ import annotations

from typing import Any

from ovtool.cli.build import Call, command, examples
from ovtool.cli.flags import DATA, OUTPUT, RECIPE_OPTION, SHARED, Flag, pairs
from ovtool.cli.index import group

app = group("dataset")

PATH = Flag("path", "dataset.path", argument=True, metavar="[PATH]",
            help="Dataset folder, file (text data) or .zip/.tar archive (or the recipe's dataset.path).")
FORMAT = Flag(("-f", "--format"), "dataset.format", panel=DATA,
              help="Input format (Datumaro or text); detected when left out.")
TO = Flag(("-t", "--to", "--output-format"), "dataset.output_format", param="to", panel=OUTPUT,
          help="Format to write (default: the input's).")
SEED = Flag("--seed", "dataset.seed", type=int, panel=DATA, help="Seed for limit/split/sample.")
KEY_ENV = Flag("--key-env", "dataset.key_env", panel=DATA, help="Environment variable holding the key.")
KEY_FILE = Flag("--key-file", "dataset.key_file", panel=DATA,
                help="Key file (encrypt generates it, mode 0600, when missing).")
KIND = Flag("--kind", "dataset.kind", choices=("image", "text"), panel=DATA, help="Detected when left out.")
TEXT_FIELD = Flag("--text-field", "dataset.text_field", panel=DATA, help="Text data: the text column.")
LABEL_FIELD = Flag("--label-field", "dataset.label_field", panel=DATA, help="Text data: the label column.")
RATIO = Flag("--ratio", "dataset.ratios", repeatable=True, convert=pairs("--ratio", float), panel=DATA,
             metavar="SUBSET=SHARE", help="Repeatable: --ratio train=0.8 --ratio val=0.2")
LABEL_MAP = Flag("--label-map", "dataset.label_map", repeatable=True, convert=pairs("--label-map"), panel=DATA,
                 metavar="OLD=NEW", help="Label rename (repeatable).")
SUBSET_MAP = Flag("--subset-map", "dataset.subset_map", repeatable=True, convert=pairs("--subset-map"),
                  panel=DATA, metavar="OLD=NEW", help="Subset rename (repeatable).")
LIMIT = Flag("--limit", "dataset.limit", type=int, panel=DATA, help="Keep this many items, drawn with the seed.")
STRATIFIED = Flag("--stratified/--random", "dataset.stratified", type=bool, panel=DATA,
                  help="Keep label shares per subset (default) or not.")
KEYS = (KEY_ENV, KEY_FILE)
TEXT = (TEXT_FIELD, LABEL_FIELD)
COMMON = (RECIPE_OPTION, *SHARED)


def verb(name: str, flags: tuple[Flag, ...], summary: str, shown: str, **fixed: Any) -> None:
    """Register `ovtool dataset NAME`: the `dataset` stage with dataset.verb = NAME (+ `fixed` keys)."""
    constant = {"dataset.verb": name, **{f"dataset.{k}": v for k, v in fixed.items()}}

    def body(call: Call) -> None:
        call.run(flags={**call.recipe_flags(), **constant})

    app.command(name)(command("dataset", (*flags, *COMMON), summary, examples=examples(shown), body=body))


# Examples: the real assets; runs/fashion-mnist-imagenet/dataset is written by the first `convert` one.
verb("detect", (PATH,), "Detect the dataset format, and say why every other format was rejected.", """
    # the raw VOC sample: why Datumaro rejects it as voc (no ImageSets/Main)
    dataset detect .assets/voc_sample/data_dataset_voc
    # Fashion-MNIST idx files: mnist, as a JSON record
    dataset detect .assets/fashion_mnist --json
""")
verb("convert", (
    PATH, TO, FORMAT,
    Flag("--save-media/--no-save-media", "dataset.save_media", type=bool, panel=OUTPUT, help="Copy images."),
    Flag("--image-ext", "dataset.image_ext", panel=OUTPUT, help="Image extension to write, e.g. .png"),
    LABEL_MAP, SUBSET_MAP, RATIO, STRATIFIED, LIMIT, SEED, *KEYS,
), "Convert between Datumaro formats (VOC, COCO, YOLO, YOLO-Ultralytics, CVAT, ImageNet, …).", """
    # Fashion-MNIST → ImageNet folders, class names, stratified train/val
    dataset convert -r recipes/dataset-fashion-mnist-imagenet.yaml
    # 200 images drawn with a seed → COCO
    dataset convert .assets/fashion_mnist -f mnist --to coco --limit 200 --seed 0 -o runs/fmnist-coco
    # ImageNet folders → YOLOv8 layout
    dataset convert runs/fashion-mnist-imagenet/dataset --to yolo_ultralytics -o runs/fmnist-yolo
""")  # fmt: skip
verb("stats", (
    PATH, FORMAT, KIND,
    Flag("--image-stats", "dataset.image_stats", type=bool, panel=DATA, help="Also pixel mean/std."),
    *TEXT, *KEYS,
), "Items per subset and label, image and box sizes, annotation counts → run.json, report.md, report.html.", """
    # BBC News: articles per topic, lengths, duplicates
    dataset stats .assets/bbcnews/data -o runs/bbc-stats
    # images per class, pixel mean/std
    dataset stats runs/fashion-mnist-imagenet/dataset --image-stats -o runs/fmnist-stats
""")  # fmt: skip
verb("validate", (
    PATH, FORMAT,
    Flag("--task", "dataset.task", choices=("classification", "detection", "segmentation"), panel=DATA,
         help="Guessed from the annotations when left out."),
    *KEYS,
), "Check annotations for a task; exit 3 when the validation finds errors.", """
    # check the labels (task guessed: classification)
    dataset validate runs/fashion-mnist-imagenet/dataset
    # the findings in a report
    dataset validate runs/fashion-mnist-imagenet/dataset --task classification -o runs/fmnist-validate
""")  # fmt: skip
verb("split", (PATH, RATIO, STRATIFIED, SEED, FORMAT, TO, KIND, *TEXT, *KEYS),
     "Split into subsets (stratified by label or random) with the given shares and seed.", """
    # BBC News → stratified train/validation/test JSONL
    dataset split .assets/bbcnews/data --ratio train=0.8 --ratio validation=0.1 --ratio test=0.1 \
        --to jsonl -o runs/bbc-split
    # the same from a recipe, another seed
    dataset split -r recipes/dataset-bbc-split.yaml --seed 1 -o runs/bbc-split-1
""")  # fmt: skip
verb("filter", (
    PATH,
    Flag(("-e", "--expression"), "dataset.expression", panel=DATA, help="Datumaro XPath expression."),
    Flag("--annotations", "dataset.filter_annotations", type=bool, panel=DATA,
         help="The expression selects annotations, not items."),
    Flag("--remove-empty", "dataset.remove_empty", type=bool, panel=DATA, help="Drop items left empty."),
    FORMAT, TO, *KEYS,
), "Keep the items (or annotations) an XPath expression selects.", """
    # keep one subset
    dataset filter runs/fashion-mnist-imagenet/dataset -e "/item[subset='val']" -o runs/fmnist-val
    # keep only the bags
    dataset filter runs/fashion-mnist-imagenet/dataset -e "/item/annotation[label='bag']" --annotations \
        --remove-empty -o runs/fmnist-bags
""")  # fmt: skip
verb("merge", (
    Flag("path", "dataset.path", argument=True, required=True, help="The first dataset."),
    Flag("others", "dataset.merge_with", argument=True, required=True, repeatable=True,
         help="More datasets to merge into PATH."),
    Flag("--policy", "dataset.merge_policy", choices=("union", "exact", "intersect"), panel=DATA,
         help="Datumaro merge policy (default union)."),
    FORMAT, TO,
), "Merge datasets (Datumaro merge policies).", """
    # the two filtered copies above → one dataset
    dataset merge runs/fmnist-val/dataset runs/fmnist-bags/dataset -o runs/fmnist-merged
    # items in both, written as COCO
    dataset merge runs/fashion-mnist-imagenet/dataset runs/fmnist-yolo/dataset --policy intersect --to coco \
        -o runs/fmnist-both
""")  # fmt: skip
verb("encrypt", (PATH, *KEYS, FORMAT),
     "Encrypt annotations and media (Fernet) into a self-describing folder; the key stays out of OUT.", """
    # writes fmnist.key (mode 0600) when it is missing
    dataset encrypt runs/fashion-mnist-imagenet/dataset --key-file fmnist.key -o runs/fmnist-encrypted
    # text data too
    dataset encrypt .assets/bbcnews/data --key-file bbc.key -o runs/bbc-encrypted
""")  # fmt: skip
verb("decrypt", (PATH, *KEYS), "Restore an encrypted dataset, byte-identical; a wrong key exits 2.", """
    # back to the original files
    dataset decrypt runs/fmnist-encrypted/dataset --key-file fmnist.key -o runs/fmnist-decrypted
    # other verbs read it encrypted, without writing plaintext
    dataset stats runs/bbc-encrypted/dataset --key-file bbc.key -o runs/bbc-encrypted-stats
""")
verb("sample", (
    PATH,
    Flag(("-n", "--samples"), "dataset.samples", type=int, panel=DATA, help="How many samples to draw."),
    SEED, FORMAT, TO, *TEXT, *KEYS,
), "Draw N text samples (seeded) into OUT/dataset/sample.jsonl.", """
    # 20 BBC articles, the same 20 every time
    dataset sample .assets/bbcnews/data -n 20 --seed 0 -o runs/bbc-sample
    # 5 Shakespeare passages
    dataset sample .assets/shakespeare/plays -n 5 -o runs/plays-sample
""", kind="text")  # fmt: skip
