# Keep creating directories (and files in them) for SECONDS ($1), while the session is deleted.
end=$(( $(date +%s) + $1 )); i=0
while [ "$(date +%s)" -lt "$end" ]; do
  i=$((i + 1)); mkdir -p "t/$i/a/b" 2>/dev/null && echo x > "t/$i/a/b/f" 2>/dev/null
done
echo done
