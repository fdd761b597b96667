/*
 * http-probe: one request through the adapters' HTTP client
 * (src/http_client.c), for tests/integ/run-unsafe-consumption.sh.
 *
 *   http-probe [-a] [-m max_response] [-t timeout_ms] METHOD URL
 *
 * -a sets [adapter] allow_http.  Prints "status N len L location X" when
 * a response arrived (exit 0), or "refused: <curl error>" (exit 1).  The
 * body is never printed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "conf.h"
#include "http_client.h"
#include "log.h"
#include "util.h"

int
main(int argc, char *argv[])
{
	struct conf		 conf;
	struct http_client	 c;
	struct http_resp	 r;
	const char		*loc;
	int64_t			 v;
	int			 ch, rc;

	memset(&conf, 0, sizeof(conf));
	conf.adapter_http_timeout_ms = 5000;
	conf.adapter_max_response = 1 << 20;
	log_init("http-probe", 0);
	while ((ch = getopt(argc, argv, "am:t:")) != -1) {
		switch (ch) {
		case 'a':
			conf.adapter_allow_http = true;
			break;
		case 'm':
		case 't':
			if (parse_int64(optarg, 1, INT64_C(1) << 40, &v) == -1)
				return 2;
			if (ch == 'm')
				conf.adapter_max_response = v;
			else
				conf.adapter_http_timeout_ms = v;
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 2)
		return 2;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    http_init(&c, &conf) == -1)
		return 2;
	rc = http_request(&c, argv[optind], argv[optind + 1], NULL, NULL, 0,
	    &r);
	if (rc == 0) {
		loc = http_resp_header(&r, "location");
		printf("status %ld len %zu location %s\n", r.status, r.len,
		    loc != NULL ? loc : "-");
	} else
		printf("refused: %s\n", c.errbuf);
	http_resp_clear(&r);
	http_clear(&c);
	curl_global_cleanup();
	return rc == 0 ? 0 : 1;
}
