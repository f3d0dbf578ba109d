# Files made by sandboxed code, awkward on purpose: they must stay usable through the file API.
mkdir -p made/deep/er
echo "from the sandbox" > made/deep/er/note.txt
echo "private" > made/private.txt
chmod 000 made/private.txt
mkdir locked && echo inside > locked/in.txt && chmod 000 locked
printf '\377\376binary' > made/blob.bin
echo "done"
