# Move one directory between d1/ and d2/ for SECONDS ($1): a fork must hold it exactly once.
mkdir -p d1/item d2 && echo payload > d1/item/data
end=$(( $(date +%s) + $1 ))
while [ "$(date +%s)" -lt "$end" ]; do
  mv d1/item d2/item; mv d2/item d1/item
done
echo done
