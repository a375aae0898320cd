# Sourced by the results scripts: `step DONE_FILE DIR kdnas-args...` runs one kdnas step into DIR:
# skipped when DIR/DONE_FILE exists (finished), resumed when DIR has a checkpoint, started otherwise
# with --config "$CONFIG" --out DIR $SEED_ARG. $KDNAS is the binary.
step() {
    local done_file=$1 dir=$2; shift 2
    if [ -f "$dir/$done_file" ]; then return; fi
    if [ -d "$dir/checkpoint" ]; then "$KDNAS" "$@" --resume "$dir"; else "$KDNAS" "$@" --config "$CONFIG" --out "$dir" $SEED_ARG; fi
}
