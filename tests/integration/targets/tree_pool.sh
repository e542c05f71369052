# sh tree_pool.sh OUT_DIR PYTHON...: a shell that starts, for each interpreter given, a Python
# process whose multiprocessing pool deadlocks (tree_pool.py), and waits for them. Writes its own
# pid (the session of the tree under pystack-dump --timeout) to OUT_DIR/shell.pid.
out=$1
shift
echo $$ > "$out/shell.pid"
here=$(dirname "$0")
for python in "$@"; do
  "$python" -B "$here/tree_pool.py" "$out" &
done
wait
