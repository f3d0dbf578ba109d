# A file and a directory whose names are not UTF-8 (bytes 0xff and 0xfe).
touch "$(printf 'a\377b')"
mkdir "$(printf 'd\376')"
echo inside > "$(printf 'd\376')/x.txt"
