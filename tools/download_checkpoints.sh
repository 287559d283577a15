#!/bin/sh
# Fetch the SegFormer MiT ImageNet-1k encoder weights into pretrained/mit_bX.pth (needs network).
#
#   sh tools/download_checkpoints.sh            # mit_b0 ... mit_b5
#   sh tools/download_checkpoints.sh b5         # only mit_b5.pth (DAFormer / DASPM use B5)
#   sh tools/download_checkpoints.sh resnet50_v1c  # pretrained/resnet50_v1c.pth: the ResNet-50 of the
#                                                  # DeepLabV2/V3+, DANet, ISANet configs (loveda2*)
#
# Sources:
#   - default: the copies that mmsegmentation documents for its SegFormer configs (OpenMMLab's
#     download server, already in mmseg key layout; the MiTPretrained initializer reads both layouts);
#   - MIT_WEIGHTS_URL=<base URL>: a mirror holding the official files as <base>/mit_bX.pth.
# The original release (SegFormer README, github.com/NVlabs/SegFormer) links them on OneDrive /
# Google Drive, which cannot be scripted: download by hand and put them in pretrained/.
# Existing files are never overwritten. PRETRAINED_DIR changes the target folder.
set -u

cd "$(dirname "$0")/.." || exit 1
DEST=${PRETRAINED_DIR:-pretrained}
OPENMMLAB_BASE=https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer

# Suffix of OpenMMLab's file names (their publishing step appends the sha256 prefix).
openmmlab_hash() {
    case $1 in
        b0) echo 7e0fe6dd ;; b1) echo 02e5a6a1 ;; b2) echo 66e8bf70 ;;
        b3) echo 13b1141c ;; b4) echo d588d980 ;; b5) echo 658746d9 ;;
        resnet18_v1c) echo b5776b93 ;; resnet50_v1c) echo 2cccc1ad ;; resnet101_v1c) echo e67eebb6 ;;
    esac
}

# The local file name of a model: mit_bX.pth, or resnetN_v1c.pth
file_of() {
    case $1 in resnet*) echo "$1.pth" ;; *) echo "mit_$1.pth" ;; esac
}

url_of() {
    case $1 in  # mmseg's open-mmlab://resnetN_v1c (mmengine/hub/openmmlab.json)
        resnet*) echo "https://download.openmmlab.com/pretrain/third_party/$1-$(openmmlab_hash "$1").pth"; return ;;
    esac
    if [ -n "${MIT_WEIGHTS_URL:-}" ]; then
        echo "${MIT_WEIGHTS_URL%/}/mit_$1.pth"
    else
        echo "$OPENMMLAB_BASE/mit_$1_20220624-$(openmmlab_hash "$1").pth"
    fi
}

python_bin() {
    if [ -x .venv/bin/python ]; then echo .venv/bin/python; else command -v python3 || command -v python; fi
}

# fetch URL OUT: curl, else wget, else Python's urllib; non-zero status on any failure.
fetch() {
    if command -v curl >/dev/null 2>&1; then
        curl -fL --progress-bar --connect-timeout 20 --retry 2 -o "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -T 20 -O "$2" "$1"
    else
        py=$(python_bin) || return 1
        "$py" -c 'import shutil, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=20) as r, open(sys.argv[2], "wb") as f:
    shutil.copyfileobj(r, f)' "$1" "$2"
    fi
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -c1-8
    elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -c1-8
    fi
}

models=""
for m in ${*:-b0 b1 b2 b3 b4 b5}; do  # accepts b5, mit_b5 or mit_b5.pth; resnet50_v1c(.pth)
    m=${m#mit_}; m=${m%.pth}
    case $m in
        b[0-5] | resnet18_v1c | resnet50_v1c | resnet101_v1c) models="$models $m" ;;
        *) echo "error: unknown model '$m' (expected b0 ... b5, resnet18_v1c, resnet50_v1c or resnet101_v1c)" >&2; exit 2 ;;
    esac
done
mkdir -p "$DEST" || { echo "error: cannot create $DEST/" >&2; exit 1; }
failed=""
for m in $models; do
    out="$DEST/$(file_of "$m")"
    if [ -e "$out" ]; then
        echo "$out exists, kept"
        continue
    fi
    url=$(url_of "$m")
    part="$DEST/.$(file_of "$m").part"
    echo "downloading $url -> $out"
    if fetch "$url" "$part" && [ -s "$part" ]; then
        if [ -z "${MIT_WEIGHTS_URL:-}" ] || [ "${m#resnet}" != "$m" ]; then
            sum=$(sha256_of "$part")
            if [ -n "$sum" ] && [ "$sum" != "$(openmmlab_hash "$m")" ]; then
                echo "warning: sha256 of $out starts with $sum, expected $(openmmlab_hash "$m")" >&2
            fi
        fi
        mv "$part" "$out"
    else
        rm -f "$part"
        failed="$failed $m"
    fi
done

if [ -n "$failed" ]; then
    echo "" >&2
    echo "error: could not download:$failed (no network, or the server refused)." >&2
    echo "Download these files by hand and put them in $DEST/ under exactly these names:" >&2
    for m in $failed; do
        case $m in
            resnet*) echo "  $DEST/$(file_of "$m")   <- $(url_of "$m")" >&2 ;;
            *) echo "  $DEST/mit_$m.pth   <- SegFormer ImageNet-1k weights mit_$m.pth (github.com/NVlabs/SegFormer README)" >&2
               echo "                       or $(url_of "$m")" >&2 ;;
        esac
    done
    echo "Or set MIT_WEIGHTS_URL to a mirror holding mit_bX.pth and run this script again." >&2
    exit 1
fi
echo "weights ready in $DEST/"
