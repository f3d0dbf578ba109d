# Create 1,000 files and remove them, over and over, for SECONDS ($1): the disk watch
# meets files that vanish under it.
end=$(( $(date +%s) + $1 ))
mkdir -p churn
while [ "$(date +%s)" -lt "$end" ]; do
  python3 -c "
import os
for i in range(1000):
    open(f'churn/f{i}', 'w').write('x')
for i in range(1000):
    os.unlink(f'churn/f{i}')
"
done
echo done
