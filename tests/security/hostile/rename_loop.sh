# For SECONDS ($1): rename a directory back and forth, and turn one of its entries from a
# directory into a file and back, so walks meet entries that vanish or change type.
mkdir -p d/sub && for i in 1 2 3 4 5; do echo $i > d/sub/f$i; done
end=$(( $(date +%s) + $1 ))
while [ "$(date +%s)" -lt "$end" ]; do
  mv d e; mv e d
  rm -rf d/sub; echo file > d/sub; rm d/sub; mkdir d/sub; echo 1 > d/sub/f1
done
echo done
