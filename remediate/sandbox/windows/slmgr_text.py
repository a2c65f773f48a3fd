# ruff: noqa: E501 - message tables: one message per entry, kept whole so that it can be searched for
"""slmgr.vbs's strings, English (the script's built-in constants) and Japanese (its slmgr.ini for LANGID
0411).

ref §2c: a string missing from the translation falls back to the built-in English constant, so `text()` does
the same. Japanese fragments observed on real hosts are used verbatim (ref §2c); the rest is written in the
style of Windows' Japanese UI. No complete Japanese capture exists, so those strings are [inf].
"""

from __future__ import annotations

EN: dict[str, str] = {
    # ref §2, §2a, §2b (English templates)
    "help_1": "Windows Software Licensing Management Tool",
    "help_2": "Usage: slmgr.vbs [MachineName [User Password]] [<Option>]",
    "help_3": "MachineName: Name of remote machine (default is local machine)",
    "help_4": "User:        Account with required privilege on remote machine",
    "help_5": "Password:    password for the previous account",
    "global_options": "Global Options:",
    "advanced_options": "Advanced Options:",
    "kms_client_options": "Volume Licensing: Key Management Service (KMS) Client Options:",
    "kms_options": "Volume Licensing: Key Management Service (KMS) Options:",
    "invalid_options": "Invalid combination of command parameters.",
    "unrecognized_option": "Unrecognized option: ",
    "product_not_found": "Error: product not found.",
    "cleared_pkey": "Product key from registry cleared successfully.",
    "installed_pkey": "Installed product key %PKEY% successfully.",
    "uninstalled_pkey": "Uninstalled product key successfully.",
    "pkey_not_found": "Error: product key not found.",
    "installation_id": "Installation ID: ",
    "phone_numbers": "Product activation telephone numbers can be obtained by searching the phone.inf file for the "
    "appropriate phone number for your location/country. You can open the phone.inf file from a Command "
    "Prompt or "
    "the Start Menu by running: notepad %systemroot%\\system32\\sppui\\phone.inf",
    "activating": "Activating %PRODUCTNAME% (%PRODUCTID%) ...",
    "activated": "Product activated successfully.",
    "activation_failed": "Error: Product activation failed.",
    "conf_id": "Confirmation ID for product %ACTID% deposited successfully.",
    "slui_hint": "On a computer running Microsoft Windows non-core edition, run 'slui.exe 0x2a 0x%ERRCODE%' to "
    "display the error text.",
    "error_prefix": "Error: ",
    "needs_param": "Error: option %OPTION% needs %PARAM%",
    "non_genuine_grace": "The machine is running within the non-genuine grace period. Run 'slui.exe' to go online "
    "and make the machine genuine.",
    "non_genuine_notification": "Windows is running within the non-genuine notification period. Run 'slui.exe' to "
    "go online and validate Windows.",
    "kms_name_set": "Key Management Service machine name set to %KMS% successfully.",
    "kms_name_cleared": "Key Management Service machine name cleared successfully.",
    "kms_domain_set": "Key Management Service lookup domain set to %FQDN% successfully.",
    "kms_domain_cleared": "Key Management Service lookup domain cleared successfully.",
    "kms_overrides_domain": "Warning: /skms setting overrides the /skms-domain setting. %KMS% will be used for "
    "activation.",
    "kms_in_effect": "Warning: /skms setting is in effect. %KMS% will be used for activation.",
    "domain_in_effect": "Warning: /skms-domain setting is in effect. %FQDN% will be used for DNS SRV record lookup.",
    "host_caching_disabled": "KMS host caching is disabled",
    "host_caching_enabled": "KMS host caching is enabled",
    "act_id_not_found": "Error: Activation ID (%ActID%) not found.",
    "act_type_set": "Volume activation type set successfully.",
    "rearm_1": "Command completed successfully.",
    "rearm_2": "Please restart the system for the changes to take effect.",
    "rearm_count_windows": "Remaining Windows rearm count: %COUNT%",
    "rearm_count_sku": "Remaining SKU rearm count: %COUNT%",
    "token_only": "This system is configured for Token-based activation only. Use slmgr.vbs /fta to initiate "
    "Token-based activation, or slmgr.vbs /act-type to change the activation type setting.",
    "kms_only_warning": "Warning: %SETTING% can only be set on a KMS machine that is also activated.",
    # /xpr
    "xpr_unlicensed": "Unlicensed",
    "xpr_vl": "Volume activation will expire %ENDDATE%",
    "xpr_tbl": "Timebased activation will expire %ENDDATE%",
    "xpr_licensed": "The machine is permanently activated.",
    "xpr_initial_grace": "Initial grace period ends %ENDDATE%",
    "xpr_additional_grace": "Additional grace period ends %ENDDATE%",
    "xpr_non_genuine_grace": "Non-genuine grace period ends %ENDDATE%",
    "xpr_notification": "Windows is in Notification mode",
    "xpr_extended_grace": "Extended grace period ends %ENDDATE%",
    # /dli, /dlv
    "status_unlicensed": "License Status: Unlicensed",
    "status_licensed": "License Status: Licensed",
    "vl_expiration": "Volume activation expiration: %MINUTE% minute(s) (%DAY% day(s))",
    "tbl_expiration": "Timebased activation expiration: %MINUTE% minute(s) (%DAY% day(s))",
    "status_initial_grace": "License Status: Initial grace period",
    "status_additional_grace": "License Status: Additional grace period (KMS license expired or hardware out of "
    "tolerance)",
    "status_non_genuine_grace": "License Status: Non-genuine grace period.",
    "status_notification": "License Status: Notification",
    "status_extended_grace": "License Status: Extended grace period",
    "status_unknown": "License Status: Unknown",
    "reason_non_genuine": "Notification Reason: 0x%ERRCODE% (non-genuine).",
    "reason_expired": "Notification Reason: 0x%ERRCODE% (grace time expired).",
    "reason_other": "Notification Reason: 0x%ERRCODE%.",
    "time_remaining": "Time remaining: %MINUTE% minute(s) (%DAY% day(s))",
    "eval_end_date": "Evaluation End Date: ",
    "service_version": "Software licensing service version: ",
    "name": "Name: ",
    "description": "Description: ",
    "act_id": "Activation ID: ",
    "app_id": "Application ID: ",
    "pid4": "Extended PID: ",
    "channel": "Product Key Channel: ",
    "processor_cert_url": "Processor Certificate URL: ",
    "machine_cert_url": "Machine Certificate URL: ",
    "use_license_url": "Use License URL: ",
    "pkey_cert_url": "Product Key Certificate URL: ",
    "validation_url": "Validation URL: ",
    "partial_pkey": "Partial Product Key: ",
    "license_not_in_use": "This license is not in use.",
    "kms_info": "Key Management Service client information",
    "cmid": "Client Machine ID (CMID): ",
    "registered_kms": "Registered KMS machine name: ",
    "kms_lookup_domain": "Registered KMS SRV record lookup domain: ",
    "kms_from_dns_unavailable": "DNS auto-discovery: KMS name not available",
    "kms_from_dns": "KMS machine name from DNS: ",
    "kms_ip": "KMS machine IP address: ",
    "kms_ip_unavailable": "KMS machine IP address: not available",
    "kms_pid4": "KMS machine extended PID: ",
    "activation_interval": "Activation interval: %INTERVAL% minutes",
    "renewal_interval": "Renewal interval: %INTERVAL% minutes",
    "act_type_0": "Configured Activation Type: All",
    "act_type_1": "Configured Activation Type: AD",
    "act_type_2": "Configured Activation Type: KMS",
    "act_type_3": "Configured Activation Type: Token",
    "most_recent": "Most recent activation information:",
    "please_activate": "Please use slmgr.vbs /ato to activate and update KMS client information in order to update "
    "values.",
    "trusted_time": "Trusted time: ",
    "kms_enabled": "Key Management Service is enabled on this machine",
    "kms_current_count": "Current count: ",
    "kms_listening_port": "Listening on Port: ",
    "kms_dns_publishing_enabled": "DNS publishing enabled",
    "kms_dns_publishing_disabled": "DNS publishing disabled",
    "kms_priority_normal": "KMS priority: Normal",
    "kms_priority_low": "KMS priority: Low",
    "invalid_data": "Error: The data is invalid",
    "activation_set": "Volume activation interval set to %ACTIVATION% minutes successfully.",
    "renewal_set": "Volume renewal interval set to %RENEWAL% minutes successfully.",
    "kms_port_set": "KMS port set to %PORT% successfully.",
    "kms_priority_set_low": "KMS priority set to Low",
    "kms_priority_set_normal": "KMS priority set to Normal",
    "kms_reboot": "Warning: a KMS reboot is needed for this setting to take effect.",
    "connection_error": "Error 0x%ERRCODE% occurred in connecting to server %COMPUTERNAME%.",
    "tka_client_options": "Volume Licensing: Token-based Activation Options:",
    "ad_options": "Volume Licensing: Active Directory (AD) Activation Options:",
    "kms_cumulative": "Key Management Service cumulative requests received from clients",
    "kms_requests_total": "Total requests received: ",
    "kms_requests_failed": "Failed requests received: ",
    "kms_requests_unlicensed": "Requests with License Status Unlicensed: ",
    "kms_requests_licensed": "Requests with License Status Licensed: ",
    "kms_requests_initial_grace": "Requests with License Status Initial grace period: ",
    "kms_requests_oot": "Requests with License Status License expired or Hardware out of tolerance: ",
    "kms_requests_non_genuine": "Requests with License Status Non-genuine grace period: ",
    "kms_requests_notification": "Requests with License Status Notification: ",
}

# ref §2b: the L_MsgError_<HEX> table (English). Codes not here print the slui fallback sentence.
ERRORS_EN: dict[int, str] = {
    0xC004C001: "The activation server determined the specified product key is invalid",
    0xC004C003: "The activation server determined the specified product key is blocked",
    0xC004C008: "The activation server determined that the specified product key could not be used",
    0xC004C017: "The activation server determined the specified product key has been blocked for this "
    "geographic location.",
    0xC004C020: "The activation server reported that the Multiple Activation Key has exceeded its limit",
    0xC004C021: "The activation server reported that the Multiple Activation Key extension limit has been exceeded",
    0xC004B100: "The activation server determined that the computer could not be activated",
    0xC004D307: "The maximum allowed number of re-arms has been exceeded. You must re-install the OS before trying "
    "to re-arm again",
    0xC004F009: "The software Licensing Service reported that the grace period expired",
    0xC004F00F: "The Software Licensing Server reported that the hardware ID binding is beyond level of tolerance",
    0xC004F014: "The Software Licensing Service reported that the product key is not available",
    0xC004F025: "Access denied: the requested action requires elevated privileges",
    0xC004F02C: "The software Licensing Service reported that the format for the offline activation data is "
    "incorrect",
    0xC004F035: "The software Licensing Service reported that the computer could not be activated with a Volume "
    "license product key. Volume licensed systems require upgrading from a qualified operating system. Please "
    "contact your system administrator or use a different type of key",
    0xC004F038: "The software Licensing Service reported that the computer could not be activated. The count "
    "reported by your Key Management Service (KMS) is insufficient. Please contact your system administrator",
    0xC004F039: "The software Licensing Service reported that the computer could not be activated. The Key "
    "Management Service (KMS) is not enabled",
    0xC004F041: "The software Licensing Service determined that the Key Management Server (KMS) is not activated. "
    "KMS needs to be activated",
    0xC004F042: "The software Licensing Service determined that the specified Key Management Service (KMS) cannot "
    "be used",
    0xC004F050: "The Software Licensing Service reported that the product key is invalid",
    0xC004F051: "The software Licensing Service reported that the product key is blocked",
    0xC004F064: "The software Licensing Service reported that the non-Genuine grace period expired",
    0xC004F065: "The software Licensing Service reported that the application is running within the valid "
    "non-genuine period",
    # ref §2b: slmgr's own string for F066 is the SDK's F069 text (a string-table quirk, kept as shipped)
    0xC004F066: "The Software Licensing Service reported that the product SKU is not found",
    0xC004F06B: "The software Licensing Service determined that it is running in a virtual machine. The Key "
    "Management Service (KMS) is not supported in this mode",
    0xC004F074: "The Software Licensing Service reported that the computer could not be activated. No Key "
    "Management Service (KMS) could be contacted. Please see the Application Event Log for additional "
    "information.",
    0xC004F075: "The Software Licensing Service reported that the operation cannot be completed because the "
    "service is stopping",
    0xC004F304: "The Software Licensing Service reported that required license could not be found.",
    0xC004F305: "The Software Licensing Service reported that there are no certificates found in the system "
    "that could activate the product.",
    0xC004F30A: "The Software Licensing Service reported that the computer could not be activated. The "
    "certificate does not match the conditions in the license.",
    0xC004F30D: "The Software Licensing Service reported that the computer could not be activated. The "
    "thumbprint is invalid.",
    0xC004F30E: "The Software Licensing Service reported that the computer could not be activated. A "
    "certificate for the thumbprint could not be found.",
    0xC004F30F: "The Software Licensing Service reported that the computer could not be activated. The "
    "certificate does not match the criteria specified in the issuance license.",
    0xC004F310: "The Software Licensing Service reported that the computer could not be activated. The "
    "certificate does not match the trust point identifier (TPID) specified in the issuance license.",
    0xC004F311: "The Software Licensing Service reported that the computer could not be activated. A soft "
    "token cannot be used for activation.",
    0xC004F312: "The Software Licensing Service reported that the computer could not be activated. The "
    "certificate cannot be used because its private key is exportable.",
    5: "Access denied: the requested action requires elevated privileges",  # [src SLMGR] L_MsgError_5
    0x80070005: "Access denied: the requested action requires elevated privileges",
    0x80070057: "The parameter is incorrect",
    0x8007232A: "DNS server failure",
    0x8007232B: "DNS name does not exist",
    0x800706BA: "The RPC server is unavailable",
    0x8007251D: "No records found for DNS query",
}

JA: dict[str, str] = {
    "help_1": "Windows ソフトウェア ライセンス管理ツール",
    "help_2": "使用法: slmgr.vbs [コンピューター名 [ユーザー パスワード]] [<オプション>]",
    "help_3": "コンピューター名: リモート コンピューターの名前 (既定はローカル コンピューター)",
    "help_4": "ユーザー:         リモート コンピューターで必要な特権を持つアカウント",
    "help_5": "パスワード:       上記アカウントのパスワード",
    "global_options": "グローバル オプション:",
    "advanced_options": "詳細オプション:",
    "kms_client_options": "ボリューム ライセンス: キー管理サービス (KMS) クライアント オプション:",
    "kms_options": "ボリューム ライセンス: キー管理サービス (KMS) オプション:",
    "invalid_options": "コマンド パラメーターの組み合わせが無効です。",
    "unrecognized_option": "認識されないオプション: ",
    "product_not_found": "エラー: 製品が見つかりません。",
    "cleared_pkey": "レジストリからプロダクト キーを正常に削除しました。",
    "installed_pkey": "プロダクト キー %PKEY% を正常にインストールしました。",
    "uninstalled_pkey": "プロダクト キーを正常にアンインストールしました。",
    "pkey_not_found": "エラー: プロダクト キーが見つかりません。",
    "installation_id": "インストール ID: ",
    "phone_numbers": "ライセンス認証の電話番号は、phone.inf ファイルで国または地域に対応する電話番号を検索して確認できます。"
    "phone.inf ファイルは、コマンド プロンプトまたはスタート "
    "メニューから次のコマンドを実行して開くことができます: "
    "notepad %systemroot%\\system32\\sppui\\phone.inf",
    "activating": "%PRODUCTNAME% (%PRODUCTID%) のライセンス認証を行っています...",
    "activated": "製品は正常にライセンス認証されました。",
    "activation_failed": "エラー: 製品のライセンス認証に失敗しました。",
    "conf_id": "製品 %ACTID% の確認 ID を正常に登録しました。",
    "slui_hint": "Microsoft Windows の非コア エディションを実行しているコンピューターで 'slui.exe 0x2a 0x%ERRCODE%' "
    "を実行して、エラー テキストを表示してください。",
    "error_prefix": "エラー: ",
    "needs_param": "エラー: オプション %OPTION% には %PARAM% が必要です",
    "non_genuine_grace": "コンピューターは非正規の猶予期間内で実行されています。'slui.exe' を実行してオンラインで"
    "コンピューターを正規品にしてください。",
    "non_genuine_notification": "Windows は非正規の通知期間内で実行されています。'slui.exe' を実行してオンラインで"
    "Windows を検証してください。",
    "kms_name_set": "キー管理サービスのコンピューター名を %KMS% に正常に設定しました。",
    "kms_name_cleared": "キー管理サービスのコンピューター名を正常にクリアしました。",
    "kms_domain_set": "キー管理サービスの参照ドメインを %FQDN% に正常に設定しました。",
    "kms_domain_cleared": "キー管理サービスの参照ドメインを正常にクリアしました。",
    "kms_overrides_domain": "警告: /skms の設定は /skms-domain の設定より優先されます。ライセンス認証には %KMS% "
    "が使用されます。",
    "kms_in_effect": "警告: /skms の設定が有効です。ライセンス認証には %KMS% が使用されます。",
    "domain_in_effect": "警告: /skms-domain の設定が有効です。DNS SRV レコードの検索には %FQDN% が使用されます。",
    "host_caching_disabled": "KMS ホストのキャッシュは無効です",
    "host_caching_enabled": "KMS ホストのキャッシュは有効です",
    "act_id_not_found": "エラー: ライセンス認証 ID (%ActID%) が見つかりません。",
    "act_type_set": "ボリューム ライセンス認証の種類を正常に設定しました。",
    "rearm_1": "コマンドは正常に完了しました。",
    "rearm_2": "変更を有効にするには、システムを再起動してください。",
    "rearm_count_windows": "残りのWindows猶予期限リセット可能回数:%COUNT%",  # ref §2c, observed verbatim
    "rearm_count_sku": "残りのSKU猶予期限リセット可能回数:%COUNT%",
    "token_only": "このシステムはトークン ベースのライセンス認証のみに構成されています。トークン ベースのライセンス認証を"
    "開始するには slmgr.vbs /fta を、ライセンス認証の種類の設定を変更するには slmgr.vbs /act-type "
    "を使用してください。",
    "kms_only_warning": "警告: %SETTING% は、ライセンス認証済みの KMS コンピューターでのみ設定できます。",
    "xpr_unlicensed": "ライセンスされていません",
    "xpr_vl": "ボリューム ライセンス認証の有効期限は %ENDDATE% です",
    "xpr_tbl": "期間ベースのライセンス認証の有効期限は %ENDDATE% です",
    "xpr_licensed": "コンピューターのライセンス認証は完了しました",  # ref §2c, observed
    "xpr_initial_grace": "初期猶予期間は %ENDDATE% に終了します",
    "xpr_additional_grace": "追加の猶予期間は %ENDDATE% に終了します",
    "xpr_non_genuine_grace": "非正規の猶予期間は %ENDDATE% に終了します",
    "xpr_notification": "Windowsは通知モードです",  # ref §2c, observed
    "xpr_extended_grace": "延長猶予期間は %ENDDATE% に終了します",
    "status_unlicensed": "ライセンスの状態: ライセンスされていません",
    "status_licensed": "ライセンスの状態: ライセンスされています",
    "vl_expiration": "ボリューム ライセンス認証の有効期限: %MINUTE% 分 (%DAY% 日)",
    "tbl_expiration": "期間ベースのライセンス認証の有効期限: %MINUTE% 分 (%DAY% 日)",
    "status_initial_grace": "ライセンスの状態: 初期猶予期間",
    "status_additional_grace": "ライセンスの状態: 追加の猶予期間 (KMS ライセンスの期限切れまたはハードウェアの許容範囲外)",
    "status_non_genuine_grace": "ライセンスの状態: 非正規の猶予期間。",
    "status_notification": "ライセンスの状態: 通知",
    "status_extended_grace": "ライセンスの状態: 延長猶予期間",
    "status_unknown": "ライセンスの状態: 不明",
    "reason_non_genuine": "通知の理由: 0x%ERRCODE% (非正規)。",
    "reason_expired": "通知の理由: 0x%ERRCODE% (猶予期間の期限切れ)。",
    "reason_other": "通知の理由: 0x%ERRCODE%。",
    "time_remaining": "残り時間: %MINUTE% 分 (%DAY% 日)",
    "eval_end_date": "評価版の終了日: ",
    "service_version": "ソフトウェア ライセンス サービスのバージョン: ",
    "name": "名前: ",
    "description": "説明: ",
    "act_id": "ライセンス認証 ID: ",
    "app_id": "アプリケーション ID: ",
    "pid4": "拡張 PID: ",
    "channel": "プロダクト キー チャネル: ",
    "processor_cert_url": "プロセッサ証明書 URL: ",
    "machine_cert_url": "コンピューター証明書 URL: ",
    "use_license_url": "使用ライセンス URL: ",
    "pkey_cert_url": "プロダクト キー証明書 URL: ",
    "validation_url": "検証 URL: ",
    "partial_pkey": "プロダクト キーの一部: ",
    "license_not_in_use": "このライセンスは使用されていません。",
    "kms_info": "キー管理サービス クライアントの情報",
    "cmid": "クライアント コンピューター ID (CMID): ",
    "registered_kms": "登録されている KMS コンピューター名: ",
    "kms_lookup_domain": "登録されている KMS SRV レコードの参照ドメイン: ",
    "kms_from_dns_unavailable": "DNS 自動検出: KMS 名を使用できません",
    "kms_from_dns": "DNS からの KMS コンピューター名: ",
    "kms_ip": "KMS コンピューターの IP アドレス: ",
    "kms_ip_unavailable": "KMS コンピューターの IP アドレス: 使用できません",
    "kms_pid4": "KMS コンピューターの拡張 PID: ",
    "activation_interval": "ライセンス認証の間隔: %INTERVAL% 分",
    "renewal_interval": "更新間隔: %INTERVAL% 分",
    "act_type_0": "構成されているライセンス認証の種類: すべて",
    "act_type_1": "構成されているライセンス認証の種類: AD",
    "act_type_2": "構成されているライセンス認証の種類: KMS",
    "act_type_3": "構成されているライセンス認証の種類: トークン",
    "most_recent": "最新のライセンス認証情報:",
    "please_activate": "値を更新するには、slmgr.vbs /ato を使用してライセンス認証を行い、KMS クライアント情報を更新してください。",
    "trusted_time": "信頼された時刻: ",
    "kms_enabled": "このコンピューターではキー管理サービスが有効です",
    "kms_current_count": "現在のカウント: ",
    "kms_listening_port": "待ち受けポート: ",
    "kms_dns_publishing_enabled": "DNS 発行は有効です",
    "kms_dns_publishing_disabled": "DNS 発行は無効です",
    "kms_priority_normal": "KMS の優先度: 標準",
    "kms_priority_low": "KMS の優先度: 低",
    "invalid_data": "エラー: データが無効です",
    "activation_set": "ボリューム ライセンス認証の間隔を %ACTIVATION% 分に正常に設定しました。",
    "renewal_set": "ボリューム ライセンスの更新間隔を %RENEWAL% 分に正常に設定しました。",
    "kms_port_set": "KMS ポートを %PORT% に正常に設定しました。",
    "kms_priority_set_low": "KMS の優先度を低に設定しました",
    "kms_priority_set_normal": "KMS の優先度を標準に設定しました",
    "kms_reboot": "警告: この設定を有効にするには KMS の再起動が必要です。",
    "connection_error": "サーバー %COMPUTERNAME% への接続中にエラー 0x%ERRCODE% が発生しました。",
    "tka_client_options": "ボリューム ライセンス: トークン ベースのライセンス認証オプション:",
    "ad_options": "ボリューム ライセンス: Active Directory (AD) ライセンス認証オプション:",
    "kms_cumulative": "クライアントから受信したキー管理サービスの累積要求",
    "kms_requests_total": "受信した要求の合計: ",
    "kms_requests_failed": "受信した失敗した要求: ",
    "kms_requests_unlicensed": "ライセンスの状態が「ライセンスされていません」の要求: ",
    "kms_requests_licensed": "ライセンスの状態が「ライセンスされています」の要求: ",
    "kms_requests_initial_grace": "ライセンスの状態が「初期猶予期間」の要求: ",
    "kms_requests_oot": "ライセンスの状態が「ライセンスの期限切れまたはハードウェアの許容範囲外」の要求: ",
    "kms_requests_non_genuine": "ライセンスの状態が「非正規の猶予期間」の要求: ",
    "kms_requests_notification": "ライセンスの状態が「通知」の要求: ",
}

# The Japanese table translates the codes this model produces; the rest fall back to English (ref §2c).
ERRORS_JA: dict[int, str] = {
    0xC004C001: "ライセンス認証サーバーにより、指定されたプロダクト キーが無効であると判断されました",
    0xC004C003: "ライセンス認証サーバーにより、指定されたプロダクト キーがブロックされていると判断されました",
    0xC004C008: "ライセンス認証サーバーにより、指定されたプロダクト キーを使用できないと判断されました",
    0xC004C020: "ライセンス認証サーバーにより、マルチプル ライセンス認証キーの上限を超えたことが報告されました",
    0xC004C021: "ライセンス認証サーバーにより、マルチプル ライセンス認証キーの延長の上限を超えたことが報告されました",
    0xC004B100: "ライセンス認証サーバーにより、コンピューターのライセンス認証ができないと判断されました",
    0xC004D307: "再初期化の許容最大回数を超えました。再初期化を再び行う前に、OS を再インストールする必要があります",
    0xC004F009: "ソフトウェア ライセンス サービスにより、猶予期間が終了したことが報告されました",
    0xC004F00F: "ソフトウェア ライセンス サーバーにより、ハードウェア ID のバインドが許容範囲を超えていることが報告されました",
    0xC004F014: "ソフトウェア ライセンス サービスにより、プロダクト キーを使用できないことが報告されました",
    0xC004F025: "アクセスが拒否されました: 要求された操作には管理者特権が必要です",
    0xC004F02C: "ソフトウェア ライセンス サービスにより、オフライン ライセンス認証データの形式が正しくないことが報告されました",
    0xC004F038: "ソフトウェア ライセンス サービスにより、コンピューターのライセンス認証ができなかったことが報告されました。"
    "キー管理サービス (KMS) から報告されたカウントが不足しています。システム管理者に問い合わせてください",
    0xC004F039: "ソフトウェア ライセンス サービスにより、コンピューターのライセンス認証ができなかったことが報告されました。"
    "キー管理サービス (KMS) が有効になっていません",
    0xC004F041: "ソフトウェア ライセンス サービスにより、キー管理サーバー (KMS) がライセンス認証されていないと判断されました。"
    "KMS のライセンス認証が必要です",
    0xC004F042: "ソフトウェア ライセンス サービスにより、指定されたキー管理サービス (KMS) を使用できないと判断されました",
    0xC004F050: "ソフトウェア ライセンス サービスにより、プロダクト キーが無効であることが報告されました",
    0xC004F051: "ソフトウェア ライセンス サービスにより、プロダクト キーがブロックされていることが報告されました",
    0xC004F074: "ソフトウェア ライセンス サービスにより、コンピューターのライセンス認証ができなかったことが報告されました。"
    "キー管理サービス (KMS) に接続できませんでした。詳細については、アプリケーション イベント "
    "ログを参照してください。",
    0x80070005: "アクセスが拒否されました: 要求された操作には管理者特権が必要です",
    0x80070057: "パラメーターが間違っています",
    0x8007232A: "DNS サーバーのエラーです",
    0x8007232B: "DNS 名が存在しません",
    0x800706BA: "RPC サーバーを利用できません",
    0x8007251D: "DNS クエリのレコードが見つかりませんでした",
}


# The usage text (ref §2: printed after "Unrecognized option" or "Invalid combination of command parameters."):
# per section its header's name, then per option (option, parameters, English text, Japanese text); an empty
# option is a blank line.
USAGE: tuple[tuple[str | None, tuple[tuple[str, str, str, str], ...]], ...] = (
    (
        "global_options",
        (
            ("ipk", "<Product Key>", "Install product key (replaces existing key)", "プロダクト キーをインストールします (既存のキーを置き換えます)"),
            ("ato", "[Activation ID]", "Activate Windows", "Windows のライセンス認証を行います"),
            ("dli", "[Activation ID | All]", "Display license information (default: current license)", "ライセンス情報を表示します (既定: 現在のライセンス)"),
            ("dlv", "[Activation ID | All]", "Display detailed license information (default: current license)", "詳細なライセンス情報を表示します (既定: 現在のライセンス)"),
            ("xpr", "[Activation ID]", "Expiration date for current license state", "現在のライセンス状態の有効期限を表示します"),
        ),
    ),
    (
        "advanced_options",
        (
            ("cpky", "", "Clear product key from the registry (prevents disclosure attacks)", "レジストリからプロダクト キーを削除します (漏えい攻撃を防ぎます)"),
            ("ilc", "<License file>", "Install license", "ライセンスをインストールします"),
            ("rilc", "", "Re-install system license files", "システム ライセンス ファイルを再インストールします"),
            ("rearm", "", "Reset the licensing status of the machine", "コンピューターのライセンス状態をリセットします"),
            ("rearm-app", "<Application ID>", "Reset the licensing status of the given app", "指定したアプリのライセンス状態をリセットします"),
            ("rearm-sku", "<Activation ID>", "Reset the licensing status of the given sku", "指定した SKU のライセンス状態をリセットします"),
            ("upk", "[Activation ID]", "Uninstall product key", "プロダクト キーをアンインストールします"),
            ("", "", "", ""),
            ("dti", "[Activation ID]", "Display Installation ID for offline activation", "オフライン ライセンス認証用のインストール ID を表示します"),
            ("atp", "<Confirmation ID> [Activation ID]", "Activate product with user-provided Confirmation ID", "ユーザーが指定した確認 ID で製品のライセンス認証を行います"),
        ),
    ),
    (
        "kms_client_options",
        (
            ("skms", "<Name[:Port] | : port> [Activation ID]", "Set the name and/or the port for the KMS computer this machine will use. IPv6 address must be specified in the format [hostname]:port", "このコンピューターが使用する KMS コンピューターの名前とポートの両方またはいずれかを設定します。IPv6 アドレスは [hostname]:port の形式で指定する必要があります"),
            ("ckms", "[Activation ID]", "Clear name of KMS computer used (sets the port to the default)", "使用する KMS コンピューターの名前をクリアします (ポートは既定値に設定されます)"),
            ("skms-domain", "<FQDN> [Activation ID]", "Set the specific DNS domain in which all KMS SRV records can be found. This setting has no effect if the specific single KMS host is set via /skms option.", "すべての KMS SRV レコードを検索する DNS ドメインを設定します。/skms オプションで特定の KMS ホストが設定されている場合、この設定は無効です。"),
            ("ckms-domain", "[Activation ID]", "Clear the specific DNS domain in which all KMS SRV records can be found. The specific KMS host will be used if set via /skms. Otherwise default KMS auto-discovery will be used.", "KMS SRV レコードを検索する DNS ドメインの設定をクリアします。/skms で設定されている場合はその KMS ホストが、それ以外の場合は既定の KMS 自動検出が使用されます。"),
            ("skhc", "", "Enable KMS host caching", "KMS ホストのキャッシュを有効にします"),
            ("ckhc", "", "Disable KMS host caching", "KMS ホストのキャッシュを無効にします"),
        ),
    ),
    (
        "tka_client_options",
        (
            ("lil", "", "List installed Token-based Activation Issuance Licenses", "インストールされているトークン ベースのライセンス認証発行ライセンスを一覧表示します"),
            ("ril", "<ILID> <ILvID>", "Remove installed Token-based Activation Issuance License", "インストールされているトークン ベースのライセンス認証発行ライセンスを削除します"),
            ("ltc", "", "List Token-based Activation Certificates", "トークン ベースのライセンス認証証明書を一覧表示します"),
            ("fta", "<Certificate Thumbprint> [<PIN>]", "Force Token-based Activation", "トークン ベースのライセンス認証を強制します"),
        ),
    ),
    (
        "kms_options",
        (
            ("sprt", "<Port>", "Set TCP port KMS will use to communicate with clients", "KMS がクライアントとの通信に使用する TCP ポートを設定します"),
            ("sai", "<Activation Interval>", "Set interval (minutes) for unactivated clients to attempt KMS connection. The activation interval must be between 15 minutes (min) and 30 days (max) although the default (2 hours) is recommended.", "ライセンス認証されていないクライアントが KMS への接続を試行する間隔 (分) を設定します。15 分 (最小) から 30 日 (最大) の範囲で指定できますが、既定値 (2 時間) をお勧めします。"),
            ("sri", "<Renewal Interval>", "Set renewal interval (minutes) for activated clients to attempt KMS connection. The renewal interval must be between 15 minutes (min) and 30 days (max) although the default (7 days) is recommended.", "ライセンス認証済みのクライアントが KMS への接続を試行する更新間隔 (分) を設定します。15 分 (最小) から 30 日 (最大) の範囲で指定できますが、既定値 (7 日) をお勧めします。"),
            ("sdns", "", "Enable DNS publishing by KMS (default)", "KMS による DNS 発行を有効にします (既定)"),
            ("cdns", "", "Disable DNS publishing by KMS", "KMS による DNS 発行を無効にします"),
            ("spri", "", "Set KMS priority to normal (default)", "KMS の優先度を標準に設定します (既定)"),
            ("cpri", "", "Set KMS priority to low", "KMS の優先度を低に設定します"),
            ("act-type", "[Activation-Type] [Activation ID]", "Set activation type to 1 (for AD) or 2 (for KMS) or 3 (for Token) or 0 (for all).", "ライセンス認証の種類を 1 (AD)、2 (KMS)、3 (トークン)、0 (すべて) のいずれかに設定します。"),
        ),
    ),
    (
        "ad_options",
        (
            ("ad-activation-online", "<Product Key> [Activation Object name]", "Activate AD (Active Directory) forest with user-provided product key", "ユーザーが指定したプロダクト キーで AD (Active Directory) フォレストのライセンス認証を行います"),
            ("ad-activation-get-iid", "<Product Key>", "Display Installation ID for AD (Active Directory) forest", "AD (Active Directory) フォレストのインストール ID を表示します"),
            ("ad-activation-apply-cid", "<Product Key> <Confirmation ID> [Activation Object name]", "Activate AD (Active Directory) forest with user-provided product key and Confirmation ID", "ユーザーが指定したプロダクト キーと確認 ID で AD (Active Directory) フォレストのライセンス認証を行います"),
            ("ao-list", "", "Display Activation Objects in AD (Active Directory)", "AD (Active Directory) のライセンス認証オブジェクトを表示します"),
            ("del-ao", "<Activation Object DN | Activation Object RDN>", "Delete Activation Objects in AD (Active Directory) for user-provided Activation Object", "ユーザーが指定したライセンス認証オブジェクトを AD (Active Directory) から削除します"),
        ),
    ),
)


def text(japanese: bool, name: str, **values: str) -> str:
    """One string, Japanese when the host's UI language is ja-JP and a translation exists (ref §2c)."""
    template = (JA.get(name) if japanese else None) or EN[name]
    for key, value in values.items():
        template = template.replace(f"%{key}%", value)
    return template


def error_text(japanese: bool, code: int) -> str | None:
    """The L_MsgError_<HEX> text for a code, or None when the table has none (ref §2b)."""
    code &= 0xFFFFFFFF
    if japanese and code in ERRORS_JA:
        return ERRORS_JA[code]
    return ERRORS_EN.get(code)
