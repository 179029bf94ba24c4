#ifndef SYNCD_CURL_SHIM_H
#define SYNCD_CURL_SHIM_H
#include <curl/curl.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed
   function per argument type syncd uses. */
CURLcode syncd_curl_set_long(CURL *curl, CURLoption option, long value);
CURLcode syncd_curl_set_off_t(CURL *curl, CURLoption option, curl_off_t value);
CURLcode syncd_curl_set_string(CURL *curl, CURLoption option, const char *value);
CURLcode syncd_curl_set_pointer(CURL *curl, CURLoption option, void *value);
CURLcode syncd_curl_set_slist(CURL *curl, CURLoption option, struct curl_slist *value);

typedef size_t (*syncd_curl_data_callback)(char *buffer, size_t size, size_t count, void *userdata);
/* CURLOPT_WRITEFUNCTION, CURLOPT_READFUNCTION and CURLOPT_HEADERFUNCTION share this shape. */
CURLcode syncd_curl_set_callback(CURL *curl, CURLoption option, syncd_curl_data_callback callback);

typedef int (*syncd_curl_progress_callback)(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);
/* CURLOPT_XFERINFOFUNCTION: called about once a second and on every transfer step; non-zero aborts. */
CURLcode syncd_curl_set_progress_callback(CURL *curl, syncd_curl_progress_callback callback);

CURLcode syncd_curl_get_long(CURL *curl, CURLINFO info, long *value);
#endif
