/* Write 8 MiB, read back with a checksum, in several chunk sizes. */
#include "common.h"

#define SIZE (8 << 20)

static unsigned char gen(size_t i)
{
	return (unsigned char)((i * 2654435761u) >> 13);
}

int main(void)
{
	static unsigned char chunk[1 << 16];
	int fd = CHECK(open("big", O_CREAT | O_RDWR | O_TRUNC, 0644));
	uint64_t h = FNV_INIT;
	for (size_t off = 0; off < SIZE; off += sizeof chunk) {
		for (size_t i = 0; i < sizeof chunk; i++)
			chunk[i] = gen(off + i);
		h = fnv1a(h, chunk, sizeof chunk);
		size_t done = 0;
		while (done < sizeof chunk) {
			ssize_t w = write(fd, chunk + done, sizeof chunk - done);
			if (w <= 0)
				die("write");
			done += w;
		}
	}
	printf("written hash %016llx\n", (unsigned long long)h);
	struct stat st;
	fstat(fd, &st);
	printf("size %lld\n", (long long)st.st_size);

	size_t sizes[] = {4096, 65536, 1 << 20, 1000003};
	static unsigned char rbuf[1 << 21];
	for (unsigned s = 0; s < 4; s++) {
		lseek(fd, 0, SEEK_SET);
		uint64_t rh = FNV_INIT;
		long total = 0;
		ssize_t n;
		while ((n = read(fd, rbuf, sizes[s])) > 0) {
			rh = fnv1a(rh, rbuf, n);
			total += n;
		}
		printf("read in %zu: %ld bytes hash %016llx match=%d\n", sizes[s], total,
		       (unsigned long long)rh, rh == h);
	}

	/* Random-access preads verify content. */
	int bad = 0;
	for (size_t off = 12345; off < SIZE; off += 777777) {
		unsigned char b[100];
		pread(fd, b, sizeof b, off);
		for (int i = 0; i < 100 && off + i < SIZE; i++)
			bad += b[i] != gen(off + i);
	}
	printf("pread mismatches: %d\n", bad);

	/* Sparse file beyond 4 GiB. */
	int sp = open("sparse", O_CREAT | O_RDWR, 0644);
	off_t far = (off_t)5 << 30;
	CHECKV(pwrite(sp, "far", 3, far));
	fstat(sp, &st);
	printf("sparse size %lld\n", (long long)st.st_size);
	char b[4];
	CHECKV(pread(sp, b, 3, far));
	print_bytes("far data", b, 3);
	CHECKV(lseek(sp, 0, SEEK_END));
	close(sp);
	CHECK(unlink("sparse"));
	close(fd);
	CHECK(unlink("big"));
	return 0;
}
